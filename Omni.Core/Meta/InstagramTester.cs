using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Meta;

/// <summary>
/// "Testar Configurações" for Instagram: the page read with its token, whose connected Instagram professional account
/// must be the channel's, then that an app is subscribed to the page's <c>messages</c> webhook.
/// </summary>
internal sealed class InstagramTester(MetaGraphClient graph, MetaSends sends, MetaChecks checks) : IChannelTester
{
    public const string PageCheck = "Página e conta do Instagram (Graph API)";
    public const string WebhookCheck = "Webhook (página)";
    private const string Permissions = "instagram_basic, instagram_manage_messages and pages_manage_metadata";

    public string ChannelType => ChannelTypes.Instagram;

    public async Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var pageId = channel.GetString("pageId") ?? "";
        if (sends.Token(channel) is not { } token)
        {
            return [new ChannelCheck(PageCheck, false, 0, "The channel has no access token; save its settings with accessToken.")];
        }

        var page = await checks.RunAsync(PageCheck, $"page id {pageId}", Permissions, async () =>
        {
            var found = await graph.GetAsync($"{pageId}?fields=instagram_business_account", token, cancellationToken);
            var connected = found["instagram_business_account"]?["id"]?.GetValue<string>();
            var expected = channel.GetString("instagramAccountId");
            return connected is null ? $"The page {pageId} has no Instagram professional account connected."
                : connected != expected ? $"The page {pageId} is connected to the Instagram account {connected}, not the channel's instagramAccountId {expected}."
                : null;
        }, cancellationToken);
        if (!page.Ok)
        {
            return [page];
        }

        var webhook = await checks.RunAsync(WebhookCheck, $"page id {pageId}", Permissions, async () =>
        {
            var apps = await graph.GetAsync($"{pageId}/subscribed_apps", token, cancellationToken);
            var subscribed = apps["data"] is JsonArray data && data.Any(a => a?["subscribed_fields"] is JsonArray fields && fields.Any(f => f?.GetValue<string>() == "messages"));
            return subscribed ? null
                : $"No app is subscribed to the page's messages webhook: subscribe the Meta app (POST /{pageId}/subscribed_apps?subscribed_fields=messages) so messages arrive.";
        }, cancellationToken);
        return [page, webhook];
    }
}
