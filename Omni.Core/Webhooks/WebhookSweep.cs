using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Conversations;

namespace Omni.Webhooks;

/// <summary>
/// The WebhookSweep timer function: queues again every delivery attempt that is overdue by more than
/// <see cref="WebhookOptions.SweepGrace"/> and not being made, that is whose queue message was lost or poisoned (the
/// function failed before its claim, or the process died). It reads the bucket rows of <see cref="WebhookDueIndex"/>
/// that ended a grace ago, so an idle tick is one query; per channel they name, one range query of that partition's
/// due rows, and per due row a point read of its delivery, which tells a stranded attempt from one made already.
/// Queuing twice is harmless (the processor's claim on the row makes one attempt of it); an attempt queued again
/// <see cref="MaxRescues"/> times without being made fails the delivery, visibly and redeliverable. A staged delivery
/// (<see cref="IWebhookPublisher.StageAsync"/>) never attempted whose message does not exist is discarded, never sent.
/// </summary>
internal sealed partial class WebhookSweep(
    WebhookDueIndex index,
    IWebhookDeliveryStore store,
    WebhookQueue queue,
    WebhookDeliveryProcessor processor,
    IConversationStore conversations,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookSweep> logger)
{
    public const int MaxRescues = 5;

    // A tick does a bounded amount of work; what is left is still due at the next one.
    private const int MaxPerTick = 500;

    private TimeSpan Grace => options.Value.SweepGrace;

    /// <summary>Returns how many attempts it queued again, failed or discarded.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var buckets = new List<DueBucket>();
        await foreach (var bucket in index.OverdueAsync(now, MaxPerTick, cancellationToken))
        {
            buckets.Add(bucket);
        }

        var handled = 0;
        var budget = MaxPerTick;
        // One partition query per channel, however many of its buckets ended: it reads every due row up to now.
        foreach (var channel in buckets.GroupBy(b => (b.CompanyId, b.ChannelId)))
        {
            if (budget <= 0)
            {
                break;
            }

            try
            {
                var left = new List<DateTimeOffset>();
                var seen = 0;
                var complete = true;
                await foreach (var due in store.DueAsync(channel.Key.CompanyId, channel.Key.ChannelId, now, budget + 1, cancellationToken))
                {
                    if (seen == budget)
                    {
                        complete = false;
                        break;
                    }

                    seen++;
                    var (gone, counted) = await HandleAsync(due, now, cancellationToken);
                    if (!gone)
                    {
                        left.Add(due.DueAt);
                    }

                    handled += counted ? 1 : 0;
                }

                budget -= seen;
                // A bucket row goes once nothing is due in its partition up to its end: a row moved later has its own bucket.
                foreach (var bucket in channel.Where(b => complete && !left.Exists(t => t <= b.End)))
                {
                    await index.DropAsync(bucket, cancellationToken);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One channel's failure must not hold up the others; its bucket rows stay due for the next tick.
                LogChannelFailed(ex, channel.Key.ChannelId);
            }
        }

        return handled;
    }

    /// <summary>What became of one due row: gone (dropped, moved later, or its delivery ended), and whether it counts as handled.</summary>
    private async Task<(bool Gone, bool Counted)> HandleAsync(DueAttempt due, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var task = due.Task;
        try
        {
            var delivery = await store.GetAsync(task.CompanyId, task.ChannelId, task.DeliveryId, cancellationToken);
            if (delivery is null || delivery.Status != DeliveryStatus.Pending || delivery.Series != task.Series || delivery.NextAttempt != task.Attempt)
            {
                // Made already (or never stored): the delivery's next attempt, if any, has its own row.
                await store.DropAsync(due, cancellationToken);
                return (true, false);
            }

            if (delivery.ClaimExpiresAt > now)
            {
                return (false, false);
            }

            if (delivery is { Staged: true, Series: 1, AttemptCount: 0, MessageId: { } messageId, ConversationId: { } conversationId }
                && await conversations.GetMessageAsync(delivery.CompanyId, conversationId, messageId, cancellationToken) is null)
            {
                return await DiscardOrphanAsync(delivery, due, now, cancellationToken);
            }

            if (due.Rescues >= MaxRescues)
            {
                var error = $"Attempt {task.Attempt} was never made: the delivery function failed before making it each of the {MaxRescues + 1} times it was queued "
                    + $"(its messages are in {options.Value.QueueName}-poison). Redeliver it once that is mended.";
                if (!await processor.FailStrandedAsync(delivery, due, error, cancellationToken))
                {
                    return (false, false);
                }

                LogFailed(task.DeliveryId, task.ChannelId, task.Attempt);
                return (true, true);
            }

            // Looked at again later, and later still each time, so a function that keeps failing is not fed every tick.
            var at = WebhookDueIndex.At(now + (Grace * (1 << due.Rescues)));
            var next = due with { DueAt = at > due.DueAt ? at : due.DueAt + TimeSpan.FromMilliseconds(1), Rescues = due.Rescues + 1 };
            // Not trusting what this instance remembers: the bucket may be one a sweep deleted.
            await index.EnsureBucketAsync(next, trustMemory: false, cancellationToken);
            if (!await store.RescheduleAsync(due, next, cancellationToken))
            {
                // Another sweep moved or dropped it first.
                return (true, false);
            }

            await queue.EnqueueAsync(task with { DueAt = next.DueAt }, TimeSpan.Zero, cancellationToken);
            LogQueuedAgain(task.DeliveryId, task.ChannelId, task.Attempt, due.Rescues + 1);
            return (true, true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // One delivery's failure must not hold up the others; its row stays due for the next tick.
            LogSweepFailed(ex, task.DeliveryId);
            return (false, false);
        }
    }

    /// <summary>
    /// A staged delivery never attempted whose message does not exist: its caller died between the stage and storing
    /// the message (or could not store it, and died before discarding), so there is nothing to tell the integrator.
    /// </summary>
    private async Task<(bool Gone, bool Counted)> DiscardOrphanAsync(WebhookDelivery delivery, DueAttempt due, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (now - delivery.UpdatedAt < Grace)
        {
            // Staged again moments ago (a stage touches the delivery it finds): its caller may be storing the message now.
            return (false, false);
        }

        // Under the ETag read above: a stage repeated since (it touches the row) or a claim keeps the delivery.
        if (!await store.DiscardAsync(delivery, WebhookPublisher.KeyOf(delivery.EventType, delivery.MessageId!), due, cancellationToken))
        {
            return (false, false);
        }

        LogOrphanDiscarded(delivery.Id, delivery.ChannelId, delivery.MessageId!);
        return (true, true);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook sweep queued attempt {Attempt} of delivery {DeliveryId} (channel {ChannelId}) again (rescue {Rescue}): it was overdue and not being made")]
    private partial void LogQueuedAgain(string deliveryId, string channelId, int attempt, int rescue);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook sweep failed delivery {DeliveryId} (channel {ChannelId}): attempt {Attempt} was queued again and again but never made")]
    private partial void LogFailed(string deliveryId, string channelId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook sweep could not look at delivery {DeliveryId}; it retries at the next tick")]
    private partial void LogSweepFailed(Exception exception, string deliveryId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook sweep could not read the due rows of channel {ChannelId}; it retries at the next tick")]
    private partial void LogChannelFailed(Exception exception, string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook sweep discarded staged delivery {DeliveryId} (channel {ChannelId}): its message {MessageId} was never stored, so nothing is sent about it")]
    private partial void LogOrphanDiscarded(string deliveryId, string channelId, string messageId);
}
