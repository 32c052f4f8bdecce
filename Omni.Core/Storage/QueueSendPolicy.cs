using Azure.Storage.Queues;
using Omni.Telemetry;

namespace Omni.Storage;

/// <summary>
/// How every queue message is sent (webhook deliveries, outbound messages, mailbox polls, poison copies). A delay is
/// rounded up to whole seconds (the service counts visibility in seconds and the client truncates, so a retry is never
/// early) and capped at the service's 7 days. A message never expires: one that waits days for its attempt, or sits in
/// a poison queue for a person to look at, must not vanish before it is handled.
/// Poison handling is the same for every queue too: a handler that meets a failure that may pass queues a new,
/// delayed message and completes; throwing is kept for bugs, which are retried and finally moved to
/// <see cref="PoisonQueueOf"/> (by the Functions host, or by the local runner the same way).
/// </summary>
public static class QueueSendPolicy
{
    /// <summary>The queue service's limit for visibility.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(7);

    /// <summary>The service's "never expires" time-to-live.</summary>
    public static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);

    public static TimeSpan VisibilityDelay(TimeSpan? delay) =>
        delay is not { } d || d <= TimeSpan.Zero ? TimeSpan.Zero
        : d >= MaxDelay ? MaxDelay
        : TimeSpan.FromSeconds(Math.Ceiling(d.TotalSeconds));

    /// <summary>Where a message goes when its handler keeps throwing: the host's naming, kept by the local runner.</summary>
    public static string PoisonQueueOf(string queueName) => queueName + "-poison";

    /// <summary>
    /// Sends <paramref name="body"/> to become visible after <paramref name="delay"/> (none: at once), never expiring,
    /// carrying the trace it was sent in (<see cref="QueueTracing"/>) when telemetry listens.
    /// </summary>
    public static async Task EnqueueAsync(this QueueClient queue, string body, TimeSpan? delay = null, CancellationToken cancellationToken = default)
    {
        using var activity = QueueTracing.StartSend(queue.Name);
        await queue.SendMessageAsync(QueueTracing.Inject(body, activity), VisibilityDelay(delay), NeverExpires, cancellationToken);
    }
}
