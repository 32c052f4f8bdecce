using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Webhooks;

/// <summary>Parts of an event's <c>data</c> that more than one publisher writes, in the contract's shape.</summary>
internal static class WebhookEventData
{
    /// <summary>A message's attachments as a webhook names them: file name, content type, size (the bytes stay in Blob Storage).</summary>
    public static JsonArray Attachments(IReadOnlyList<AttachmentRef> attachments)
    {
        var array = new JsonArray();
        foreach (var a in attachments)
        {
            // The non-generic Add: Add<T> needs type metadata at run time (a trim/AOT warning).
            array.Add((JsonNode)new JsonObject { ["fileName"] = a.FileName, ["contentType"] = a.ContentType, ["size"] = a.Size });
        }

        return array;
    }
}

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

    /// <summary>
    /// Stores the delivery (row, idempotency key, due row) without queuing its first attempt, for a caller that stores
    /// what the event is about (the message) between this and <see cref="QueueAsync"/>. Null when the channel has no
    /// active webhook. The idempotency key is <see cref="PublishAsync"/>'s (<c>{eventType}:{messageId}</c>), so a stage
    /// repeated for the same message returns the delivery the first one stored.
    /// </summary>
    Task<StagedDelivery?> StageAsync(Channel channel, string eventType, JsonObject data, string messageId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues the first attempt (with the snapshot, as <see cref="PublishAsync"/> does). Throwing is survivable: the due
    /// row makes the sweep queue it, once it has checked the message exists.
    /// </summary>
    Task QueueAsync(StagedDelivery staged, CancellationToken cancellationToken = default);

    /// <summary>
    /// The caller could not store its message: removes the staged delivery (its rows) so nothing is sent about it. A
    /// delivery this stage found rather than stored (a repeat) is left alone: an earlier stage's message may exist, and
    /// the sweep discards it only once it found no message.
    /// </summary>
    Task DiscardAsync(StagedDelivery staged, CancellationToken cancellationToken = default);
}

/// <summary>
/// A delivery <see cref="IWebhookPublisher.StageAsync"/> stored and has not queued yet. What it holds beyond
/// <see cref="DeliveryId"/> is the publisher's: the row as stored (its ETag), its key and due row, and the first
/// attempt's queue message.
/// </summary>
public sealed record StagedDelivery
{
    internal StagedDelivery(string deliveryId) => DeliveryId = deliveryId;

    /// <summary>The delivery id (the stable <c>webhook-id</c>).</summary>
    public string DeliveryId { get; }

    /// <summary>The row as the stage stored or found it; null in a stand-in publisher of tests.</summary>
    internal WebhookDelivery? Delivery { get; init; }

    /// <summary>True when this stage stored the delivery; false when it found one an earlier stage stored.</summary>
    internal bool Created { get; init; }

    internal string? IdempotencyKey { get; init; }

    internal DueAttempt? Due { get; init; }

    /// <summary>The first attempt's message; null when the delivery found is not pending (nothing to queue).</summary>
    internal DeliveryTask? FirstAttempt { get; init; }
}
