using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Meta;

/// <summary>
/// "Testar Configurações" for a WhatsApp number on Meta: the phone number id read with the token (it must be the
/// channel's number), then, when the business account is given, that an app is subscribed to its webhooks.
/// </summary>
internal sealed class WhatsAppTester(MetaGraphClient graph, MetaSends sends, MetaChecks checks) : IChannelTester
{
    public const string NumberCheck = "Número (WhatsApp Cloud API)";
    public const string WebhookCheck = "Webhook (WhatsApp Business Account)";
    private const string Permissions = "whatsapp_business_messaging and whatsapp_business_management";

    public string ChannelType => ChannelTypes.WhatsApp;

    public async Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        if (channel.GetString("provider") != "meta" || channel.GetString("phoneNumberId") is not { } phoneNumberId)
        {
            return [new ChannelCheck(NumberCheck, false, 0, "Only WhatsApp channels on Meta's Cloud API (provider \"meta\") can be tested yet.")];
        }

        if (sends.Token(channel) is not { } token)
        {
            return [new ChannelCheck(NumberCheck, false, 0, "The channel has no access token; save its settings with accessToken.")];
        }

        var number = await checks.RunAsync(NumberCheck, $"phone number id {phoneNumberId}", Permissions, async () =>
        {
            var found = await graph.GetAsync($"{phoneNumberId}?fields=display_phone_number,verified_name,quality_rating", token, cancellationToken);
            var display = found["display_phone_number"]?.GetValue<string>() ?? "";
            var expected = channel.GetString("number") ?? "";
            return Digits(display) == Digits(expected) ? null
                : $"The phone number id {phoneNumberId} is the number {display}, not the channel's number {expected}.";
        }, cancellationToken);
        if (!number.Ok || channel.GetString("businessAccountId") is not { } account)
        {
            return [number];
        }

        var webhook = await checks.RunAsync(WebhookCheck, $"business account {account}", Permissions, async () =>
        {
            var apps = await graph.GetAsync($"{account}/subscribed_apps", token, cancellationToken);
            return apps["data"] is JsonArray { Count: > 0 } ? null
                : $"No app is subscribed to the webhooks of business account {account}: subscribe the Meta app (POST /{account}/subscribed_apps) so messages arrive.";
        }, cancellationToken);
        return [number, webhook];
    }

    private static string Digits(string value) => new([.. value.Where(char.IsAsciiDigit)]);
}
