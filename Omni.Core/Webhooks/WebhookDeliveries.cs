using Omni.Audit;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>
/// Who reads the delivery audit: a channel API key reads its own channel (and names no other); a management key
/// (or the admin) names an omni channel of its company. <paramref name="ChannelId"/> is the channel the caller
/// stands for, <paramref name="RequestedChannelId"/> the one its request named.
/// </summary>
internal sealed record DeliveryReader(string CompanyId, string? ChannelId, bool IsChannelKey, string? RequestedChannelId, string Actor);

/// <summary>What a redeliver request came to, with the delivery as queued when it was.</summary>
internal sealed record RedeliverResult(RedeliverOutcome Outcome, WebhookDelivery? Delivery = null);

/// <summary>The webhook delivery audit: list, read and redeliver, only ever within the one channel the caller may read.</summary>
internal sealed class WebhookDeliveries(IWebhookDeliveryStore store, IChannelStore channels, IWebhookTargets targets, WebhookDeliveryProcessor processor, IAuditLog audit)
{
    /// <summary>A page, newest first; null when the caller may read no such channel.</summary>
    public async Task<PagedResult<WebhookDelivery>?> ListAsync(DeliveryReader reader, DeliveryStatus? status, DateTimeOffset? since, int limit, string? continuationToken,
        CancellationToken cancellationToken = default) =>
        await ChannelAsync(reader, cancellationToken) is { } channel
            ? await store.ListAsync(reader.CompanyId, channel, status, since, limit, continuationToken, cancellationToken)
            : null;

    public async Task<WebhookDelivery?> GetAsync(DeliveryReader reader, string deliveryId, CancellationToken cancellationToken = default) =>
        await ChannelAsync(reader, cancellationToken) is { } channel ? await store.GetAsync(reader.CompanyId, channel, deliveryId, cancellationToken) : null;

    /// <summary>Starts a fresh series of attempts (same webhook-id), audited under the caller.</summary>
    public async Task<RedeliverResult> RedeliverAsync(DeliveryReader reader, string deliveryId, CancellationToken cancellationToken = default)
    {
        if (await ChannelAsync(reader, cancellationToken) is not { } channel
            || await store.GetAsync(reader.CompanyId, channel, deliveryId, cancellationToken) is not { } delivery)
        {
            return new(RedeliverOutcome.NotFound);
        }

        var outcome = await processor.RedeliverAsync(delivery, cancellationToken);
        if (outcome != RedeliverOutcome.Queued)
        {
            return new(outcome);
        }

        await audit.WriteAsync(reader.CompanyId, reader.Actor, "webhook-delivery.redelivered", $"channels/{channel}/deliveries/{deliveryId}", null, cancellationToken);
        return new(outcome, await store.GetAsync(reader.CompanyId, channel, deliveryId, cancellationToken) ?? delivery);
    }

    /// <summary>The channel the caller may read: its own (channel key) or the one it named in its company (management key).</summary>
    private async Task<string?> ChannelAsync(DeliveryReader reader, CancellationToken cancellationToken)
    {
        if (reader.ChannelId is not { } channelId)
        {
            return null;
        }

        if (reader.IsChannelKey)
        {
            // As on /api/audit/messages: a channel key naming another channel is answered as a channel that does not exist.
            return reader.RequestedChannelId is null || reader.RequestedChannelId == channelId ? channelId : null;
        }

        // A management key names the channel itself: it must be an omni channel of its own company (deleted ones keep their history),
        // or a bot (its deliveries live in the company's partition under the bot's id, so another company's bot has none).
        return targets.Owns(channelId)
            || await channels.GetAsync(reader.CompanyId, channelId, includeDeleted: true, cancellationToken) is { Type: ChannelTypes.Omni } ? channelId : null;
    }
}
