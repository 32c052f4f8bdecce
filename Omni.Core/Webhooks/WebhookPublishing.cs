using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Webhooks;

/// <summary>The event types an omni channel's webhook (contract section 6) and a bot's webhook (section 10) receive.</summary>
public static class WebhookEventTypes
{
    public const string MessageCreated = "message.created";
    public const string ConversationClosed = "conversation.closed";
    public const string ConversationOpened = "conversation.opened";
    public const string ConversationReturned = "conversation.returned";
}

/// <summary>
/// Hands an event to the signed-webhook delivery pipeline of an omni channel or a bot. Returns once the delivery is
/// durably recorded and queued; attempts, retries and their audit trail happen in the delivery function.
/// </summary>
public interface IWebhookPublisher
{
    /// <returns>The delivery id (the stable <c>webhook-id</c>), or null when the channel has no active webhook.</returns>
    Task<string?> PublishAsync(Channel channel, string eventType, JsonObject data, string? messageId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// The same delivery, addressed to a bot's webhook (<see cref="IWebhookTargets"/> finds its URL and secret at each
    /// attempt). <paramref name="eventKey"/> names the event for idempotency when neither a message nor a close does
    /// (a conversation's return to the bot): a repeated publish with the same key keeps its first delivery.
    /// </summary>
    Task<string?> PublishToBotAsync(string companyId, string botId, string eventType, JsonObject data, string? messageId = null, string? eventKey = null,
        CancellationToken cancellationToken = default);
}
