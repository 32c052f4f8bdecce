using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>
/// Records the delivery (payload included, with its due row) and queues its first attempt, for a channel's webhook or
/// a bot's; a staged delivery's first attempt is queued by its caller once it stored its message. A retried publish of
/// the same message event (or of a conversation's close) finds the first delivery and keeps its <c>webhook-id</c>, so
/// an integrator never sees one event twice under two ids.
/// </summary>
internal sealed partial class WebhookPublisher(
    IWebhookDeliveryStore store,
    WebhookQueue queue,
    WebhookDueIndex due,
    WebhookRetrySchedule schedule,
    TimeProvider clock,
    ILogger<WebhookPublisher> logger) : IWebhookPublisher
{
    public async Task<string?> PublishAsync(Channel channel, string eventType, JsonObject data, string? messageId = null, CancellationToken cancellationToken = default)
    {
        if (!HasWebhook(channel, eventType))
        {
            return null;
        }

        var staged = await StageToAsync(channel.CompanyId, channel.Id, channel, eventType, data, messageId,
            // A conversation closes once for good (a later message opens a new one), so its id keys the close event.
            eventType == WebhookEventTypes.ConversationClosed && ConversationOf(data) is { } closedId ? $"{eventType}:{closedId}" : null, staged: false, cancellationToken);
        await QueueAsync(staged, cancellationToken);
        return staged.DeliveryId;
    }

    public async Task<string?> PublishToBotAsync(string companyId, string botId, string eventType, JsonObject data, string? messageId = null, string? eventKey = null,
        CancellationToken cancellationToken = default)
    {
        // A conversation opens and closes once, so its id keys those events; a return names its own key.
        var staged = await StageToAsync(companyId, botId, null, eventType, data, messageId,
            eventKey is not null ? $"{eventType}:{eventKey}"
            : eventType is WebhookEventTypes.ConversationClosed or WebhookEventTypes.ConversationOpened && ConversationOf(data) is { } id ? $"{eventType}:{id}"
            : null, staged: false, cancellationToken);
        await QueueAsync(staged, cancellationToken);
        return staged.DeliveryId;
    }

    public async Task<StagedDelivery?> StageAsync(Channel channel, string eventType, JsonObject data, string messageId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        if (!HasWebhook(channel, eventType))
        {
            return null;
        }

        var staged = await StageToAsync(channel.CompanyId, channel.Id, channel, eventType, data, messageId, null, staged: true, cancellationToken);
        if (!staged.Created && staged.Delivery is { Status: DeliveryStatus.Pending, Series: 1, AttemptCount: 0, Staged: true, ClaimExpiresAt: null } found)
        {
            // A repeat of a stage whose caller may have died before storing its message, and is storing it now: touched, so a
            // sweep that read the delivery before and found no message fails to discard it (ETag), and one that reads it
            // after sees it staged moments ago and leaves it a grace longer.
            try
            {
                staged = staged with { Delivery = await store.UpdateAsync(found with { UpdatedAt = clock.GetUtcNow() }, cancellationToken: cancellationToken) };
            }
            catch (StorageConflictException)
            {
                // Claimed or discarded since it was read: queuing it again is harmless, the claim keeps it to one send.
            }
        }

        return staged;
    }

    public async Task QueueAsync(StagedDelivery staged, CancellationToken cancellationToken = default)
    {
        if (staged.Delivery is not { } delivery || staged.FirstAttempt is not { } first)
        {
            return;
        }

        // For a repeated publish this queues the pending attempt again; the claim on the row keeps it to one send.
        var delay = (delivery.NextAttemptAt ?? clock.GetUtcNow()) - clock.GetUtcNow();
        await queue.EnqueueAsync(first, delay > TimeSpan.Zero ? delay : TimeSpan.Zero, cancellationToken);
        LogPublished(delivery.Id, delivery.ChannelId, delivery.EventType, delivery.Payload.Length);
    }

    public async Task DiscardAsync(StagedDelivery staged, CancellationToken cancellationToken = default)
    {
        if (staged.Delivery is not { } delivery)
        {
            return;
        }

        if (!staged.Created)
        {
            LogDiscardLeft(delivery.Id);
            return;
        }

        if (await store.DiscardAsync(delivery, staged.IdempotencyKey, staged.Due, cancellationToken))
        {
            LogDiscarded(delivery.Id, delivery.ChannelId);
        }
        else
        {
            LogDiscardLeft(delivery.Id);
        }
    }

    private bool HasWebhook(Channel channel, string eventType)
    {
        if (channel.Type != ChannelTypes.Omni || channel.IsDeleted || channel.WebhookDisabledAt is not null || string.IsNullOrEmpty(channel.GetString("webhookUrl")))
        {
            LogSkipped(channel.Id, eventType);
            return false;
        }

        return true;
    }

    private static string? ConversationOf(JsonObject data) =>
        data["conversationId"] is JsonValue c && c.TryGetValue<string>(out var conversationId) ? conversationId : null;

    /// <summary>The idempotency key of a delivery about a message: the same for a publish and a stage.</summary>
    public static string KeyOf(string eventType, string messageId) => $"{eventType}:{messageId}";

    /// <param name="targetId">The channel, or another target's id (<see cref="IWebhookTargets"/>): the delivery's partition.</param>
    /// <param name="channel">The channel as the caller read it, carried to the first attempt; null for another target.</param>
    private async Task<StagedDelivery> StageToAsync(string companyId, string targetId, Channel? channel, string eventType, JsonObject data, string? messageId, string? eventKey,
        bool staged, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        // ToJsonString, not JsonSerializer: a JsonNode needs no type metadata, so nothing here depends on reflection under AOT.
        var payload = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["type"] = eventType,
            ["timestamp"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["data"] = data.DeepClone(),
        }.ToJsonString());
        var firstDelay = schedule.DelayBefore(1, null, 0);
        var draft = new WebhookDelivery(
            TableWebhookDeliveryStore.NewId(now), companyId, targetId, eventType, messageId, ConversationOf(data),
            DeliveryStatus.Pending, Series: 1, NextAttempt: 1, now + firstDelay, [], 0, null, null, now, now)
        {
            Payload = payload,
            Staged = staged,
        };

        var key = messageId is not null ? KeyOf(eventType, messageId) : eventKey;
        // The due row is in the delivery's transaction, so a delivery whose first message never arrives is found by the sweep;
        // its bucket row is written before (once per bucket and channel by this instance), so the sweep finds the partition.
        var dueRow = due.AttemptOf(draft);
        await due.EnsureBucketAsync(dueRow, cancellationToken: cancellationToken);
        var delivery = await store.CreateAsync(draft, key, dueRow, cancellationToken);
        var created = delivery.Id == draft.Id;
        return new StagedDelivery(delivery.Id)
        {
            Delivery = delivery,
            Created = created,
            IdempotencyKey = key,
            // A repeat's due row is its own, with its own due time: the sweep drops it once the delivery moved on.
            Due = created ? dueRow : null,
            FirstAttempt = delivery.Status != DeliveryStatus.Pending ? null
                : new DeliveryTask(delivery.CompanyId, delivery.ChannelId, delivery.Id, delivery.Series, delivery.NextAttempt)
                {
                    Snapshot = created ? SnapshotOf(delivery, channel, now) : null,
                },
        };
    }

    /// <summary>
    /// The new row and the channel's webhook for the first attempt, when the payload is small enough for a queue
    /// message (64 KiB, base64 in JSON): that attempt then reads neither the delivery nor the channel.
    /// </summary>
    private static DeliverySnapshot? SnapshotOf(WebhookDelivery delivery, Channel? channel, DateTimeOffset now) =>
        delivery.ETag is not { } etag || delivery.PayloadBlob is not null || delivery.Payload.Length > WebhookQueue.SnapshotPayloadLimit ? null
        : new DeliverySnapshot(etag, delivery.EventType, delivery.MessageId, delivery.ConversationId, delivery.CreatedAt, delivery.NextAttemptAt, delivery.Payload.ToArray(),
            channel?.GetString("webhookUrl") is { } url
                ? new TargetSnapshot(url, channel.ProtectedSecrets.Where(s => s.Key is WebhookSecrets.CurrentField or WebhookSecrets.PreviousField).ToDictionary(),
                    channel.PreviousWebhookSecretExpiresAt, now)
                : null);

    [LoggerMessage(Level = LogLevel.Debug, Message = "No webhook event {EventType} for channel {ChannelId}: it has no active webhook")]
    private partial void LogSkipped(string channelId, string eventType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} queued for {TargetId}: {EventType}, {Bytes} bytes")]
    private partial void LogPublished(string deliveryId, string targetId, string eventType, int bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Staged webhook delivery {DeliveryId} for {TargetId} discarded: its message was not stored")]
    private partial void LogDiscarded(string deliveryId, string targetId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Staged webhook delivery {DeliveryId} left to the sweep: an earlier stage stored it, or it changed since (the sweep discards it if its message never appears)")]
    private partial void LogDiscardLeft(string deliveryId);
}
