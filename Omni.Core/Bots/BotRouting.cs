using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;
using Omni.Webhooks;

namespace Omni.Bots;

/// <summary>
/// Conversation routing on a channel with a bot (a WhatsApp channel's <c>returnToBot</c> and <c>botId</c>): a
/// conversation the contact opens starts with the bot, and while the bot handles it every inbound message goes to the
/// bot's webhook as a signed <c>message.created</c> (the first after <c>conversation.opened</c>), through the same
/// delivery engine as an omni channel's webhook.
/// </summary>
internal sealed class BotRouting(IConversationStore conversations, IWebhookPublisher publisher)
{
    /// <summary>
    /// After an inbound message is stored (now, or before: a Meta event processed again after a crash), hands it to the
    /// bot that handles its conversation. Publishing is keyed by the message (and the opening by the conversation), so a
    /// message handled twice is delivered once.
    /// </summary>
    public async Task DeliverInboundAsync(Channel channel, AppendResult stored, CancellationToken cancellationToken = default)
    {
        // Only a channel with a bot opens bot conversations: on any other the conversation is not read again.
        if (stored.Outcome == AppendOutcome.Mismatch || channel.GetString("botId") is null
            || await conversations.GetConversationAsync(channel.CompanyId, stored.Message.ConversationId, cancellationToken) is not
                { Status: ConversationStatus.Open, Handler: ConversationHandler.Bot, BotId: { } botId } conversation)
        {
            return;
        }

        var message = stored.Message;
        // The message that opened the conversation was stored with it, at the same instant.
        if (conversation.CreatedAt == message.CreatedAt)
        {
            await publisher.PublishToBotAsync(channel.CompanyId, botId, WebhookEventTypes.ConversationOpened, BotReturns.EventData(conversation), cancellationToken: cancellationToken);
        }

        var data = BotReturns.EventData(conversation);
        data["messageId"] = message.Id;
        data["direction"] = "inbound";
        data["text"] = message.Text;
        data["attachments"] = WebhookEventData.Attachments(message.Attachments);
        if (message.Metadata is { Count: > 0 } metadata)
        {
            data["metadata"] = new JsonObject(metadata.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
        }

        await publisher.PublishToBotAsync(channel.CompanyId, botId, WebhookEventTypes.MessageCreated, data, message.Id, cancellationToken: cancellationToken);
    }
}
