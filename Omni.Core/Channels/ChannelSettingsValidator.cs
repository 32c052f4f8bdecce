using System.Net;
using System.Net.Mail;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Omni.Email;
using Omni.Security;
using Omni.Validation;
using Omni.Webhooks;
using PhoneNumbers;

namespace Omni.Channels;

/// <summary>What a channel's settings become once checked: the part that may be shown, and the secrets sent in this request.</summary>
public sealed record ValidatedSettings(JsonObject Public, IReadOnlyDictionary<string, string> Secrets);

/// <summary>
/// Checks <c>settings</c> per channel type, naming every bad field by its JSON path. Secret fields are taken out
/// of the public settings; on an update a secret left out keeps the stored value, so it is required only when
/// the channel has none yet.
/// </summary>
public sealed class ChannelSettingsValidator(IOptions<WebhookOptions> webhookOptions, IOptions<EmailOptions> emailOptions)
{
    public const int MaxSignatureLength = 32_000;
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>The write-only fields of each type, as they appear in <c>settings</c>.</summary>
    public static IReadOnlyList<string> SecretFieldsOf(string type, JsonObject? publicSettings = null) => type switch
    {
        ChannelTypes.Email => ["password"],
        ChannelTypes.MicrosoftEmail => ["clientSecret"],
        ChannelTypes.Instagram => ["accessToken", "appSecret", "verifyToken"],
        ChannelTypes.MercadoLivre => ["accessToken"],
        ChannelTypes.WhatsApp => (publicSettings?["provider"]?.GetValue<string>()) switch
        {
            "360dialog" => ["apiKey"],
            _ => ["accessToken", "appSecret", "verifyToken"],
        },
        _ => [],
    };

    public ValidatedSettings Validate(string type, JsonObject? settings, Channel? existing, ValidationErrors errors)
    {
        if (settings is null)
        {
            errors.Add("settings", "Required.");
            return new ValidatedSettings([], new Dictionary<string, string>());
        }

        var reader = new SettingsReader(settings, "settings", errors);
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);

        void Secret(string name, int maxLength = 4096)
        {
            var value = reader.String(name, required: false, maxLength, copy: false);
            if (value is not null)
            {
                secrets[name] = value;
            }
            else if (existing?.ProtectedSecrets.ContainsKey(name) != true)
            {
                errors.Add($"settings.{name}", "Required.");
            }
        }

        switch (type)
        {
            case ChannelTypes.Omni:
                if (reader.String("webhookUrl", required: true, maxLength: 2048) is { } url
                    && TargetAddressPolicy.ValidateUrl(url, webhookOptions.Value.AllowPrivateTargets) is { } problem)
                {
                    errors.Add("settings.webhookUrl", problem);
                }

                break;

            case ChannelTypes.Email:
                EmailAddress(reader, "address", required: true);
                reader.String("displayName", required: false);
                Secret("password");
                if (reader.Object("incoming", required: true) is { } incoming)
                {
                    if (incoming.String("protocol", required: true) is { } protocol && protocol is not ("imap" or "pop3"))
                    {
                        incoming.Error("protocol", "Must be \"imap\" or \"pop3\".");
                    }

                    Server(incoming);
                }

                if (reader.Object("outgoing", required: true) is { } outgoing)
                {
                    Server(outgoing);
                }

                reader.String("signatureHtml", required: false, maxLength: MaxSignatureLength);
                reader.Int("pollSeconds", required: false, min: 10, max: 86_400, defaultValue: 60);
                break;

            case ChannelTypes.MicrosoftEmail:
                EmailAddress(reader, "address", required: true);
                reader.String("mailboxId", required: true);
                if (reader.String("tenantId", required: true) is { } tenant && !Guid.TryParse(tenant, out _) && Uri.CheckHostName(tenant) != UriHostNameType.Dns)
                {
                    reader.Error("tenantId", "Must be the directory (tenant) id, a GUID, or its domain name.");
                }

                if (reader.String("clientId", required: true) is { } client && !Guid.TryParse(client, out _))
                {
                    reader.Error("clientId", "Must be the application (client) id, a GUID.");
                }

                Secret("clientSecret");
                reader.String("signatureHtml", required: false, maxLength: MaxSignatureLength);
                reader.Int("pollSeconds", required: false, min: 10, max: 86_400, defaultValue: 60);
                break;

            case ChannelTypes.WhatsApp:
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
                if (reader.Bool("returnToBot", required: true) == true)
                {
                    reader.String("botId", required: true);
                }
                else
                {
                    reader.String("botId", required: false);
                }

                reader.Bool("hsm", required: true);
                reader.Bool("hsmOpensConversation", required: true);
                if (provider == "360dialog")
                {
                    Secret("apiKey");
                }
                else if (provider == "meta")
                {
                    reader.String("phoneNumberId", required: true);
                    reader.String("businessAccountId", required: false);
                    Secret("accessToken");
                    Secret("appSecret");
                    Secret("verifyToken");
                }

                break;

            case ChannelTypes.Instagram:
                EmailAddress(reader, "accountEmail", required: true);
                reader.String("pageId", required: true);
                reader.String("instagramAccountId", required: true);
                Secret("accessToken");
                Secret("appSecret");
                Secret("verifyToken");
                break;

            case ChannelTypes.Webchat:
                if (reader.StringArray("allowedOrigins", required: true, maxItems: 50) is { } origins)
                {
                    for (var i = 0; i < origins.Count; i++)
                    {
                        if (!Uri.TryCreate(origins[i], UriKind.Absolute, out var origin) || origin.Scheme is not ("https" or "http")
                            || origin.AbsolutePath != "/" || origin.Query.Length > 0 || origins[i].TrimEnd('/').Length != origin.GetLeftPart(UriPartial.Authority).Length)
                        {
                            errors.Add($"settings.allowedOrigins[{i}]", "Must be an origin such as https://shop.example.com (scheme, host and optional port, no path).");
                        }
                    }
                }

                break;

            case ChannelTypes.MercadoLivre:
                if (reader.String("sellerId", required: true, maxLength: 32) is { } seller && !seller.All(char.IsAsciiDigit))
                {
                    reader.Error("sellerId", "Must be the numeric Mercado Livre seller id.");
                }

                Secret("accessToken");
                break;
        }

        return new ValidatedSettings(reader.Output, secrets);

        void Server(SettingsReader server)
        {
            var host = server.String("host", required: true, maxLength: 253);
            if (host is not null && Uri.CheckHostName(host) is UriHostNameType.Unknown or UriHostNameType.Basic)
            {
                server.Error("host", "Must be a host name or IP address.");
            }
            else if (host is not null && !emailOptions.Value.AllowPrivateHosts && IPAddress.TryParse(host.Trim('[', ']'), out var ip) && !TargetAddressPolicy.IsPublic(ip))
            {
                // Names are checked again on the address connected to (MailConnector); a literal can be refused now.
                server.Error("host", "Must not be a private, loopback, link-local or cloud metadata address.");
            }

            server.Int("port", required: true, min: 1, max: 65_535);
            server.Bool("ssl", required: true);
        }
    }

    private static void EmailAddress(SettingsReader reader, string name, bool required)
    {
        if (reader.String(name, required, maxLength: 254) is { } value
            && (!MailAddress.TryCreate(value, out var parsed) || parsed.Address != value || !parsed.Host.Contains('.', StringComparison.Ordinal)))
        {
            reader.Error(name, "Must be an e-mail address such as support@example.com.");
        }
    }

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
