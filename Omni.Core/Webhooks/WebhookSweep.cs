using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Omni.Webhooks;

/// <summary>
/// The WebhookSweep timer function: queues again every delivery attempt that is overdue by more than
/// <see cref="WebhookOptions.SweepGrace"/> and not being made, that is whose queue message was lost or poisoned (the
/// function failed before its claim, or the process died). It reads only the due index rows, so an idle tick is one
/// query; each due row costs a point read of its delivery, which tells a stranded attempt from one made already.
/// Queuing twice is harmless (the processor's claim on the row makes one attempt of it); an attempt queued again
/// <see cref="MaxRescues"/> times without being made fails the delivery, visibly and redeliverable.
/// </summary>
internal sealed partial class WebhookSweep(
    WebhookDueIndex index,
    IWebhookDeliveryStore store,
    WebhookQueue queue,
    WebhookDeliveryProcessor processor,
    IOptions<WebhookOptions> options,
    TimeProvider clock,
    ILogger<WebhookSweep> logger)
{
    public const int MaxRescues = 5;

    // A tick does a bounded amount of work; what is left is still due at the next one.
    private const int MaxPerTick = 500;

    /// <summary>Returns how many attempts it queued again or failed.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var handled = 0;
        await foreach (var due in index.DueAsync(now, MaxPerTick, cancellationToken))
        {
            var task = due.Task;
            try
            {
                var delivery = await store.GetAsync(task.CompanyId, task.ChannelId, task.DeliveryId, cancellationToken);
                if (delivery is null || delivery.Status != DeliveryStatus.Pending || delivery.Series != task.Series || delivery.NextAttempt != task.Attempt)
                {
                    // Made already (or never stored): the delivery's next attempt, if any, has its own row.
                    await index.DropAsync(due, cancellationToken);
                    continue;
                }

                if (delivery.ClaimExpiresAt > now)
                {
                    continue;
                }

                if (due.Rescues >= MaxRescues)
                {
                    var error = $"Attempt {task.Attempt} was never made: the delivery function failed before making it each of the {MaxRescues + 1} times it was queued "
                        + $"(its messages are in {options.Value.QueueName}-poison). Redeliver it once that is mended.";
                    if (await processor.FailStrandedAsync(delivery, error, cancellationToken))
                    {
                        await index.DropAsync(due, cancellationToken);
                        LogFailed(task.DeliveryId, task.ChannelId, task.Attempt);
                        handled++;
                    }

                    continue;
                }

                // Looked at again later, and later still each time, so a function that keeps failing is not fed every tick.
                await index.RescheduleAsync(due, now + (options.Value.SweepGrace * (1 << due.Rescues)), cancellationToken);
                await queue.EnqueueAsync(task, TimeSpan.Zero, cancellationToken);
                LogQueuedAgain(task.DeliveryId, task.ChannelId, task.Attempt, due.Rescues + 1);
                handled++;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One delivery's failure must not hold up the others; its row stays due for the next tick.
                LogSweepFailed(ex, task.DeliveryId);
            }
        }

        return handled;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook sweep queued attempt {Attempt} of delivery {DeliveryId} (channel {ChannelId}) again (rescue {Rescue}): it was overdue and not being made")]
    private partial void LogQueuedAgain(string deliveryId, string channelId, int attempt, int rescue);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook sweep failed delivery {DeliveryId} (channel {ChannelId}): attempt {Attempt} was queued again and again but never made")]
    private partial void LogFailed(string deliveryId, string channelId, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook sweep could not look at delivery {DeliveryId}; it retries at the next tick")]
    private partial void LogSweepFailed(Exception exception, string deliveryId);
}
