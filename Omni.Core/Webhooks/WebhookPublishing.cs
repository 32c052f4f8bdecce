using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Webhooks;

/// <summary>The event types an omni channel's webhook receives (contract section 6).</summary>
public static class WebhookEventTypes
{
    public const string MessageCreated = "message.created";
    public const string ConversationClosed = "conversation.closed";
}

/// <summary>
/// Hands an event to the signed-webhook delivery pipeline of an omni channel. Returns once the delivery is
/// durably recorded and queued; attempts, retries and their audit trail happen in the delivery function.
/// </summary>
public interface IWebhookPublisher
{
    /// <returns>The delivery id (the stable <c>webhook-id</c>), or null when the channel has no active webhook.</returns>
    Task<string?> PublishAsync(Channel channel, string eventType, JsonObject data, string? messageId = null, CancellationToken cancellationToken = default);
}
