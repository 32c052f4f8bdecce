using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Audit;
using Omni.Channels;
using Omni.Conversations;
using Omni.Storage;
using Omni.Telemetry;

namespace Omni.Webhooks;

/// <summary>What a redeliver request came to.</summary>
internal enum RedeliverOutcome
{
    NotFound,
    Queued,
    InFlight,
    Conflict,
}

/// <summary>
/// The DeliverWebhook queue function: one message, one attempt. It claims the attempt on the delivery row (ETag),
/// sends, records the attempt and queues the next one as a new message that becomes visible when it is due, then
/// completes: it never sleeps and never leans on the poison queue. A duplicate or stale message finds the row
/// moved on (another series or attempt, or a final status) and does nothing, which is what lets
/// <see cref="WebhookSweep"/> queue an attempt again whenever it looks stranded.
/// </summary>
internal sealed partial class WebhookDeliveryProcessor(
    IWebhookDeliveryStore store,
    IChannelStore channels,
    IAuditLog audit,
    IConversationStore conversations,
    WebhookQueue queue,
    WebhookDueIndex due,
    WebhookSender sender,
    WebhookDestinations destinations,
    IWebhookTargets targets,
    WebhookRetrySchedule schedule,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookDeliveryProcessor> logger)
{
    public const string Actor = "webhook-delivery";

    // Longer than any attempt can take, so a live claim is never taken over; short enough to recover from a crash.
    private TimeSpan ClaimLease => (options.Value.AttemptTimeout * 2) + TimeSpan.FromSeconds(15);

    public async Task ProcessAsync(string message, CancellationToken cancellationToken = default)
    {
        var task = WebhookQueue.Parse(message);
        if (task.Snapshot is { } snapshot && await TryClaimSnapshotAsync(task, snapshot, cancellationToken) is { } fromSnapshot)
        {
            await AttemptAsync(fromSnapshot, snapshot.Target, task.DueAt, cancellationToken);
            return;
        }

        for (var round = 0; round < 3; round++)
        {
            var delivery = await store.GetAsync(task.CompanyId, task.ChannelId, task.DeliveryId, cancellationToken);
            if (delivery is null)
            {
                LogMissing(task.DeliveryId);
                return;
            }

            if (delivery.Status != DeliveryStatus.Pending || delivery.Series != task.Series || delivery.NextAttempt != task.Attempt)
            {
                LogStale(task.DeliveryId, task.Series, task.Attempt);
                return;
            }

            var now = clock.GetUtcNow();
            if (delivery.ClaimExpiresAt is { } until && until > now)
            {
                // Another worker has this attempt. Look again when its claim runs out, in case it never finishes.
                await queue.EnqueueAsync(task, until - now + TimeSpan.FromSeconds(1), cancellationToken);
                return;
            }

            WebhookDelivery claimed;
            try
            {
                claimed = await store.UpdateAsync(delivery with { ClaimExpiresAt = now + ClaimLease, UpdatedAt = now }, cancellationToken: cancellationToken);
            }
            catch (StorageConflictException)
            {
                continue;
            }

            await AttemptAsync(claimed, null, task.DueAt, cancellationToken);
            return;
        }

        // Every lost race above means another writer moved the row; three in a row is odd enough to let the host retry.
        throw new InvalidOperationException($"Webhook delivery {task.DeliveryId} kept changing while attempt {task.Attempt} was being claimed.");
    }

    /// <summary>
    /// Claims the first attempt of a publish from the row its message carries, with no read: the claim is written
    /// against the ETag the publisher got, so it wins only while the row is exactly as published (pending, this series
    /// and attempt, unclaimed). Null when the row moved on since: the caller reads it and decides as for any message.
    /// </summary>
    private async Task<WebhookDelivery?> TryClaimSnapshotAsync(DeliveryTask task, DeliverySnapshot snapshot, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var published = new WebhookDelivery(task.DeliveryId, task.CompanyId, task.ChannelId, snapshot.EventType, snapshot.MessageId, snapshot.ConversationId,
            DeliveryStatus.Pending, task.Series, task.Attempt, snapshot.NextAttemptAt, [], 0, null, null, snapshot.CreatedAt, snapshot.CreatedAt)
        {
            Payload = snapshot.Payload,
            ETag = snapshot.ETag,
        };
        try
        {
            return await store.UpdateAsync(published with { ClaimExpiresAt = now + ClaimLease, UpdatedAt = now }, cancellationToken: cancellationToken);
        }
        catch (StorageConflictException)
        {
            return null;
        }
    }

    /// <summary>Starts a fresh series of attempts now. A delivery being sent at this moment is left alone.</summary>
    public async Task<RedeliverOutcome> RedeliverAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        if (delivery.ClaimExpiresAt is { } until && until > now)
        {
            return RedeliverOutcome.InFlight;
        }

        var next = delivery with
        {
            Status = DeliveryStatus.Pending,
            Series = delivery.Series + 1,
            NextAttempt = 1,
            NextAttemptAt = now,
            ClaimExpiresAt = null,
            UpdatedAt = now,
        };
        var expect = due.AttemptOf(next);
        try
        {
            await due.EnsureBucketAsync(expect, cancellationToken: cancellationToken);
            // The new series' due row and the old one's drop (a pending delivery's) in the same transaction as the row.
            next = await store.UpdateAsync(next, expect, delivery.Status == DeliveryStatus.Pending && delivery.NextAttemptAt is not null ? due.AttemptOf(delivery) : null, cancellationToken);
        }
        catch (StorageConflictException)
        {
            return RedeliverOutcome.Conflict;
        }

        // Should this enqueue fail, the row shows pending with its next attempt due and indexed: the sweep queues it.
        await queue.EnqueueAsync(new DeliveryTask(next.CompanyId, next.ChannelId, next.Id, next.Series, 1), TimeSpan.Zero, cancellationToken);
        return RedeliverOutcome.Queued;
    }

    /// <summary>
    /// Fails a pending delivery whose attempt the sweep queued again and again without it being made (the function
    /// fails before its claim every time), so it shows <c>failed</c> and can be redelivered; <paramref name="stranded"/>, the
    /// due row the sweep found it by, goes in the same transaction. False when the row moved on.
    /// </summary>
    public async Task<bool> FailStrandedAsync(WebhookDelivery delivery, DueAttempt stranded, string error, CancellationToken cancellationToken = default)
    {
        var failed = delivery with { Status = DeliveryStatus.Failed, LastError = error, NextAttemptAt = null, ClaimExpiresAt = null, UpdatedAt = clock.GetUtcNow() };
        try
        {
            await store.UpdateAsync(failed, done: stranded, cancellationToken: cancellationToken);
        }
        catch (StorageConflictException)
        {
            return false;
        }

        await UpdateMessageStatusAsync(failed, cancellationToken);
        return true;
    }

    /// <param name="dueAt">The due time of the attempt's due row when the sweep moved it (<see cref="DeliveryTask.DueAt"/>).</param>
    private async Task AttemptAsync(WebhookDelivery delivery, TargetSnapshot? published, DateTimeOffset? dueAt, CancellationToken cancellationToken)
    {
        var startedAt = clock.GetUtcNow();
        var destination = await destinations.FindAsync(delivery, published, startedAt, cancellationToken);
        var channel = destination.Channel;
        var final = destination.Url is null || destination.Secrets is null;
        var result = final
            ? new AttemptResult(null, 0, destination.Problem, null, null)
            : await sender.SendAsync(destination.Url!, delivery.Id, delivery.Payload, destination.Secrets!, cancellationToken);

        var now = clock.GetUtcNow();
        DueAttempt? expect = null;
        var recorded = delivery with
        {
            Attempts = [.. delivery.Attempts, new DeliveryAttempt(startedAt, result.StatusCode, result.ElapsedMs, result.Error, result.ResponseBody, delivery.Series)],
            AttemptCount = delivery.AttemptCount + 1,
            LastStatusCode = result.StatusCode,
            LastError = result.Error,
            ClaimExpiresAt = null,
            NextAttemptAt = null,
            UpdatedAt = now,
        };

        if (result.Succeeded)
        {
            recorded = recorded with { Status = DeliveryStatus.Succeeded };
        }
        else if (final || result.Gone || delivery.NextAttempt >= schedule.Attempts)
        {
            recorded = recorded with { Status = DeliveryStatus.Failed };
        }
        else
        {
            var attempt = delivery.NextAttempt + 1;
            var delay = schedule.DelayBefore(attempt, result.RetryAfter, (Random.Shared.NextDouble() * 2) - 1);
            delay = delay > QueueSendPolicy.MaxDelay ? QueueSendPolicy.MaxDelay : delay;
            recorded = recorded with { NextAttempt = attempt, NextAttemptAt = now + delay };
            expect = due.AttemptOf(recorded);
            await due.EnsureBucketAsync(expect, cancellationToken: cancellationToken);
            // Queued before the row moves on: if recording fails, this message finds the row behind and is dropped,
            // while the current message comes back and the attempt is made again.
            await queue.EnqueueAsync(new DeliveryTask(delivery.CompanyId, delivery.ChannelId, delivery.Id, delivery.Series, attempt), delay, cancellationToken);
        }

        if (result.Gone && destination.FromSnapshot)
        {
            // The snapshot is not the channel row: disabling rewrites the row as it is now.
            channel = await channels.GetAsync(delivery.CompanyId, delivery.ChannelId, includeDeleted: true, cancellationToken);
        }

        if (result.Gone && channel is not null)
        {
            // Disabled before the delivery is recorded, so a crash in between cannot leave the webhook enabled.
            await DisableWebhookAsync(channel, delivery.Id, cancellationToken);
        }

        try
        {
            // The record, the next attempt's due row (a retry) and the drop of this attempt's: one transaction.
            var done = due.AttemptOf(delivery);
            await store.UpdateAsync(recorded, expect, dueAt is { } at ? done with { DueAt = at } : done, cancellationToken);
        }
        catch (StorageConflictException)
        {
            // Our claim ran out and another worker took the attempt over; its record stands.
            LogClaimLost(delivery.Id, delivery.NextAttempt);
            return;
        }

        LogAttempt(delivery.Id, delivery.ChannelId, delivery.Series, delivery.NextAttempt, result.StatusCode, result.ElapsedMs, recorded.Status, recorded.NextAttemptAt);
        OmniTelemetry.DeliveryAttempted(recorded.Status == DeliveryStatus.Pending ? "retrying" : recorded.Status == DeliveryStatus.Succeeded ? "succeeded" : "failed",
            delivery.EventType, TimeSpan.FromMilliseconds(result.ElapsedMs));
        await UpdateMessageStatusAsync(recorded, cancellationToken);
    }

    /// <summary>
    /// The outbound message was "sent" once its delivery was queued; a delivery that fails for good makes it failed,
    /// and one that succeeds on a redelivery makes it sent again, so the agent sees what the integrator got.
    /// </summary>
    private async Task UpdateMessageStatusAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        // A bot's deliveries carry inbound messages, whose status is not the delivery's.
        if (delivery.EventType != WebhookEventTypes.MessageCreated || targets.Owns(delivery.ChannelId) || delivery.MessageId is not { } messageId || delivery.ConversationId is not { } conversationId
            || (delivery.Status != DeliveryStatus.Failed && !(delivery.Status == DeliveryStatus.Succeeded && delivery.Series > 1)))
        {
            return;
        }

        if (await conversations.GetMessageAsync(delivery.CompanyId, conversationId, messageId, cancellationToken) is null)
        {
            return;
        }

        await (delivery.Status == DeliveryStatus.Failed
            ? conversations.SetStatusAsync(delivery.CompanyId, conversationId, messageId, MessageStatus.Failed,
                $"The integrator's webhook did not accept the message (delivery {delivery.Id}): {delivery.LastError}", cancellationToken: cancellationToken)
            : conversations.SetStatusAsync(delivery.CompanyId, conversationId, messageId, MessageStatus.Sent, null, cancellationToken: cancellationToken));
    }

    private async Task DisableWebhookAsync(Channel channel, string deliveryId, CancellationToken cancellationToken)
    {
        for (var round = 0; round < 3; round++)
        {
            try
            {
                await channels.UpdateAsync(channel with { WebhookDisabledAt = clock.GetUtcNow() }, new Dictionary<string, string>(), cancellationToken);
                await audit.WriteAsync(channel.CompanyId, Actor, "webhook.disabled", $"channels/{channel.Id}", ["settings.webhookDisabled"], cancellationToken);
                LogDisabled(channel.Id, deliveryId);
                return;
            }
            catch (StorageConflictException)
            {
                channel = await channels.GetAsync(channel.CompanyId, channel.Id, includeDeleted: true, cancellationToken) ?? channel;
                if (channel.WebhookDisabledAt is not null)
                {
                    return;
                }
            }
        }

        throw new InvalidOperationException($"Could not disable the webhook of channel {channel.Id}: it kept changing.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} does not exist; message dropped")]
    private partial void LogMissing(string deliveryId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Webhook delivery {DeliveryId}: message for series {Series} attempt {Attempt} is stale; dropped")]
    private partial void LogStale(string deliveryId, int series, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId}: the claim on attempt {Attempt} ran out before it was recorded; another worker's record stands")]
    private partial void LogClaimLost(string deliveryId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryId} (channel {ChannelId}) series {Series} attempt {Attempt}: status {StatusCode} in {ElapsedMs} ms → {Outcome}, next at {NextAttemptAt}")]
    private partial void LogAttempt(string deliveryId, string channelId, int series, int attempt, int? statusCode, long elapsedMs, DeliveryStatus outcome, DateTimeOffset? nextAttemptAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Channel {ChannelId}'s webhook answered 410 Gone (delivery {DeliveryId}); webhook disabled until its settings are saved again")]
    private partial void LogDisabled(string channelId, string deliveryId);
}
