using System.Text.Json.Nodes;
using Omni.Bots;
using Omni.Channels;
using Omni.Validation;
using PhoneNumbers;

namespace Omni.Meta;

/// <summary>
/// A <c>whatsapp</c> channel's settings: the number and its conversation rules, and the provider's credentials:
/// Meta's WhatsApp Cloud API (a phone number id and its tokens) or 360dialog (an API key).
/// </summary>
internal sealed class WhatsAppSettingsRules(IBotStore bots) : IChannelSettingsRules
{
    /// <summary>The secrets of a kind that talks to a Meta app: instagram has the same three.</summary>
    internal static readonly string[] MetaSecrets = ["accessToken", "appSecret", "verifyToken"];

    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    // The access token and the 360dialog key act for one number; after a change of provider or number they are asked again.
    private static readonly SecretBinding MetaToken = new("accessToken", ["provider", "phoneNumberId", "businessAccountId"], "the WhatsApp number or account changed");
    private static readonly SecretBinding DialogKey = new("apiKey", ["provider", "number"], "the WhatsApp number changed");

    public void Check(ChannelSettingsInput input)
    {
        var reader = input.Settings;
        var provider = reader.String("provider", required: true);
        if (provider is not null and not ("meta" or "360dialog"))
        {
            reader.Error("provider", "Must be \"meta\" (WhatsApp Cloud API) or \"360dialog\".");
        }

        if (reader.String("number", required: true, maxLength: 32, copy: false) is { } number)
        {
            if (MobileNumber(number) is { } e164)
            {
                reader.Set("number", e164);
            }
            else
            {
                reader.Error("number", "Must be a valid mobile number in international form: country code, area code and number (E.164).");
            }
        }

        reader.Int("expirationMinutes", required: true, min: 1, max: 10_080);
        reader.String("botId", required: reader.Bool("returnToBot", required: true) == true);
        reader.Bool("hsm", required: true);
        reader.Bool("hsmOpensConversation", required: true);
        if (provider == "360dialog")
        {
            input.Secret("apiKey");
        }
        else if (provider == "meta")
        {
            reader.String("phoneNumberId", required: true);
            reader.String("businessAccountId", required: false);
            foreach (var secret in MetaSecrets)
            {
                input.Secret(secret);
            }
        }
    }

    /// <summary>The bot new conversations start with must be one of the company's (another company's is as good as none).</summary>
    public async Task CheckReferencesAsync(string companyId, JsonObject settings, ValidationErrors errors, CancellationToken cancellationToken = default)
    {
        if (settings["botId"] is JsonValue v && v.TryGetValue<string>(out var botId) && await bots.GetAsync(companyId, botId, cancellationToken) is null)
        {
            errors.Add("settings.botId", "No such bot in this company.");
        }
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => Is360Dialog(settings) ? ["apiKey"] : MetaSecrets;

    public IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => Is360Dialog(settings) ? [DialogKey] : [MetaToken];

    private static bool Is360Dialog(JsonObject settings) => settings["provider"] is JsonValue v && v.TryGetValue<string>(out var p) && p == "360dialog";

    /// <summary>Parses DDI+DDD+number, with or without a leading +, and returns E.164 only for mobile numbers.</summary>
    internal static string? MobileNumber(string value)
    {
        var digits = value.Trim();
        if (!digits.StartsWith('+'))
        {
            digits = "+" + digits;
        }

        try
        {
            var parsed = Phones.Parse(digits, null);
            return Phones.IsValidNumber(parsed) && Phones.GetNumberType(parsed) is PhoneNumberType.MOBILE or PhoneNumberType.FIXED_LINE_OR_MOBILE
                ? Phones.Format(parsed, PhoneNumberFormat.E164)
                : null;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }
}
