namespace Omni.Webhooks;

public sealed class WebhookOptions
{
    public const string Section = "Omni:Webhooks";
    public const string DefaultQueueName = "webhook-deliveries";

    /// <summary>Local development only: allows http URLs and private, loopback and link-local targets.</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>
    /// Comma-separated TimeSpans replacing the contract's schedule: entry n is the wait before attempt n+1, so the
    /// count of entries is the count of attempts. Null or empty: <see cref="WebhookRetrySchedule.Default"/>.
    /// </summary>
    public string? RetrySchedule { get; set; }

    /// <summary>The delivery queue; must be the queueName in functions/DeliverWebhook/function.json (checked at start).</summary>
    public string QueueName { get; set; } = DefaultQueueName;

    /// <summary>How long one attempt may take to get its response headers (the contract's 15 s).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long after its due time an attempt not yet made counts as stranded (its queue message lost or poisoned), so
    /// the WebhookSweep function queues it again. Longer than the host's retries of one message (maxDequeueCount ×
    /// visibilityTimeout in host.json), so the sweep does not race a message that is still being retried.
    /// </summary>
    public TimeSpan SweepGrace { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>The table of the deliveries' due-time index (tests give each app its own, as its queues).</summary>
    public string DueTableName { get; set; } = WebhookDueIndex.DefaultTable;
}
