using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Webhooks;

namespace Omni.OmniChannel;

/// <summary>
/// "Testar Configurações" for <c>omni</c> channels: one signed <c>webhook.test</c> POST to the webhook URL, through
/// the deliveries' own sender (SSRF guard, timeout, no redirects). It records no delivery: nothing is retried or
/// audited, and the integrator should answer 2xx and otherwise ignore it.
/// </summary>
internal sealed class OmniChannelTester(IChannelStore channels, WebhookSender sender, TimeProvider clock) : IChannelTester
{
    public const string EventType = "webhook.test";
    private const string CheckName = "webhook";

    public string ChannelType => ChannelTypes.Omni;

    public async Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        if (!Uri.TryCreate(channel.GetString("webhookUrl"), UriKind.Absolute, out var url))
        {
            return [new ChannelCheck(CheckName, false, 0, "The channel has no webhook URL.")];
        }

        var now = clock.GetUtcNow();
        if (WebhookSecrets.SigningSecrets(channels, channel, now) is not { } secrets)
        {
            return [new ChannelCheck(CheckName, false, 0, WebhookSecrets.UnreadableError)];
        }

        var body = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["type"] = EventType,
            ["timestamp"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["data"] = new JsonObject { ["channelId"] = channel.Id },
        }.ToJsonString());
        var result = await sender.SendAsync(url, TableWebhookDeliveryStore.NewId(now), body, secrets, cancellationToken);
        return [new ChannelCheck(CheckName, result.Succeeded, result.ElapsedMs, result.Succeeded ? null : result.Error)];
    }
}
