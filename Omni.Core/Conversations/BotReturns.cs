using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Webhooks;

namespace Omni.Conversations;

/// <summary>
/// The conversation's side of bot routing (contract section 10): agents' close on a channel with <c>returnToBot</c>
/// gives the conversation back to the bot (it stays open, the bot gets <c>conversation.returned</c>), and a close of a
/// conversation a bot handles is delivered to the bot. Bots themselves live in <c>Bots/</c>, which depends on this
/// folder; events reach the bot through the webhook publisher, so this folder does not depend on <c>Bots/</c>.
/// </summary>
internal sealed class BotReturns(IConversationStore store, IChannelStore channels, IWebhookPublisher publisher)
{
    /// <summary>
    /// Returns the conversation to its channel's bot instead of closing it, when agents handle it and the channel has
    /// <c>returnToBot</c>; null when it is to be closed as usual (or does not exist). The event is published before the
    /// conversation changes hands, keyed by the routing version it moves to, so a close retried after a crash delivers
    /// it once.
    /// </summary>
    public async Task<Conversation?> TryReturnAsync(string companyId, string conversationId, CancellationToken cancellationToken = default)
    {
        for (var round = 0; round < 3; round++)
        {
            if (await store.GetConversationAsync(companyId, conversationId, cancellationToken) is not { Status: ConversationStatus.Open, Handler: ConversationHandler.Agents } conversation
                || await channels.GetAsync(companyId, conversation.ChannelId, cancellationToken: cancellationToken) is not { } channel
                || ChannelBot(channel) is not { } botId)
            {
                return null;
            }

            var version = conversation.RoutingVersion + 1;
            var returned = conversation with { Handler = ConversationHandler.Bot, BotId = botId, ServiceId = null, RoutingVersion = version };
            await publisher.PublishToBotAsync(companyId, botId, WebhookEventTypes.ConversationReturned, EventData(returned),
                eventKey: $"{conversationId}:{version}", cancellationToken: cancellationToken);
            if (await store.RouteAsync(companyId, conversationId, conversation.RoutingVersion, new ConversationRouting(ConversationHandler.Bot, botId, null), cancellationToken)
                is { RoutingVersion: var now, Handler: ConversationHandler.Bot } routed && now == version)
            {
                return routed;
            }
        }

        return null;
    }

    /// <summary>The bot a channel gives its conversations to (<c>returnToBot</c> and <c>botId</c>); null: agents take them.</summary>
    public static string? ChannelBot(Channel channel) =>
        channel.Settings["returnToBot"] is JsonValue v && v.TryGetValue<bool>(out var on) && on ? channel.GetString("botId") : null;

    /// <summary>A close of a conversation a bot handles is the bot's to know (keyed by the conversation: delivered once).</summary>
    public async Task PublishClosedAsync(Conversation closed, JsonObject data, CancellationToken cancellationToken = default)
    {
        if (closed is { Handler: ConversationHandler.Bot, BotId: { } botId })
        {
            var payload = EventData(closed);
            foreach (var (name, value) in data)
            {
                payload[name] ??= value?.DeepClone();
            }

            await publisher.PublishToBotAsync(closed.CompanyId, botId, WebhookEventTypes.ConversationClosed, payload, cancellationToken: cancellationToken);
        }
    }

    /// <summary>What every event to a bot says about its conversation.</summary>
    public static JsonObject EventData(Conversation conversation) => new()
    {
        ["conversationId"] = conversation.Id,
        ["channelId"] = conversation.ChannelId,
        ["botId"] = conversation.BotId,
        ["contact"] = new JsonObject
        {
            ["externalId"] = conversation.Contact.ExternalId,
            ["name"] = conversation.Contact.Name,
            ["phone"] = conversation.Contact.Phone,
        },
    };
}
