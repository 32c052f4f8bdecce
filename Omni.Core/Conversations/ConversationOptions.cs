namespace Omni.Conversations;

public sealed class ConversationOptions
{
    public const string Section = "Omni:Conversations";

    /// <summary>How long an in-flight marker blocks its external id (409) before it counts as left by a crashed request.</summary>
    public TimeSpan InFlightTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Attempts of one outbound message by its transport before it is marked failed.</summary>
    public int OutboundMaxAttempts { get; set; } = 6;

    /// <summary>The first retry's delay after a transient failure; each next one doubles, up to <see cref="OutboundRetryMaxDelay"/>.</summary>
    public TimeSpan OutboundRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan OutboundRetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a send claim stands for a worker sending now; an older one was left by a crash mid-send, and its
    /// message is resolved (mail: looked up or failed as unknown, never resent blindly) within about this long of the
    /// crash. Above any transport's own timeouts (SMTP's per command, Graph's per request); a send slower than this is
    /// taken for a crash and, for mail, reported as unknown rather than sent twice.
    /// </summary>
    public TimeSpan OutboundClaimTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The queue SendOutbound listens on: the queueName of its function.json (tests give each app its own).</summary>
    public string OutboundQueueName { get; set; } = OutboundQueue.QueueName;

    /// <summary>How long after an agent's message or a close its hand-off counts as lost, so the OutboxSweep function hands it on again.</summary>
    public TimeSpan OutboxGrace { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The table of the outbox's due-time index (tests give each app its own, as its queues).</summary>
    public string OutboxTableName { get; set; } = ConversationOutbox.Table;
}
