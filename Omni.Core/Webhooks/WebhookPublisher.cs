using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.Webhooks;

/// <summary>
/// Records the delivery (payload included) and queues its first attempt, for a channel's webhook or a bot's. A retried publish of the same message
/// event (or of a conversation's close) finds the first delivery and keeps its <c>webhook-id</c>, so an integrator
/// never sees one event twice under two ids.
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
        if (channel.Type != ChannelTypes.Omni || channel.IsDeleted || channel.WebhookDisabledAt is not null || string.IsNullOrEmpty(channel.GetString("webhookUrl")))
        {
            LogSkipped(channel.Id, eventType);
            return null;
        }

        return await PublishToAsync(channel.CompanyId, channel.Id, channel, eventType, data, messageId,
            // A conversation closes once for good (a later message opens a new one), so its id keys the close event.
            eventType == WebhookEventTypes.ConversationClosed && ConversationOf(data) is { } closedId ? $"{eventType}:{closedId}" : null, cancellationToken);
    }

    public Task<string?> PublishToBotAsync(string companyId, string botId, string eventType, JsonObject data, string? messageId = null, string? eventKey = null,
        CancellationToken cancellationToken = default) =>
        // A conversation opens and closes once, so its id keys those events; a return names its own key.
        PublishToAsync(companyId, botId, null, eventType, data, messageId,
            eventKey is not null ? $"{eventType}:{eventKey}"
            : eventType is WebhookEventTypes.ConversationClosed or WebhookEventTypes.ConversationOpened && ConversationOf(data) is { } id ? $"{eventType}:{id}"
            : null, cancellationToken);

    private static string? ConversationOf(JsonObject data) =>
        data["conversationId"] is JsonValue c && c.TryGetValue<string>(out var conversationId) ? conversationId : null;

    /// <param name="targetId">The channel, or another target's id (<see cref="IWebhookTargets"/>): the delivery's partition.</param>
    /// <param name="channel">The channel as the caller read it, carried to the first attempt; null for another target.</param>
    private async Task<string?> PublishToAsync(string companyId, string targetId, Channel? channel, string eventType, JsonObject data, string? messageId, string? eventKey,
        CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["type"] = eventType,
            ["timestamp"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["data"] = data.DeepClone(),
        });
        var firstDelay = schedule.DelayBefore(1, null, 0);
        var draft = new WebhookDelivery(
            TableWebhookDeliveryStore.NewId(now), companyId, targetId, eventType, messageId, ConversationOf(data),
            DeliveryStatus.Pending, Series: 1, NextAttempt: 1, now + firstDelay, [], 0, null, null, now, now)
        {
            Payload = payload,
        };

        var key = messageId is not null ? $"{eventType}:{messageId}" : eventKey;
        // Indexed first, so a delivery whose first message never arrives is found by the sweep.
        await due.ExpectAsync(draft, cancellationToken);
        var delivery = await store.CreateAsync(draft, key, cancellationToken);
        if (delivery.Id != draft.Id)
        {
            // A repeat: the first delivery has its own index row.
            await due.DoneAsync(draft, cancellationToken);
        }

        if (delivery.Status == DeliveryStatus.Pending)
        {
            // For a repeated publish this queues the pending attempt again; the claim on the row keeps it to one send.
            await queue.EnqueueAsync(new DeliveryTask(delivery.CompanyId, delivery.ChannelId, delivery.Id, delivery.Series, delivery.NextAttempt)
            {
                Snapshot = delivery.Id == draft.Id ? SnapshotOf(delivery, channel, now) : null,
            }, (delivery.NextAttemptAt ?? now) - now, cancellationToken);
        }

        LogPublished(delivery.Id, targetId, eventType, payload.Length);
        return delivery.Id;
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
}
