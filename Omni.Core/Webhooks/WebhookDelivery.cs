namespace Omni.Webhooks;

public enum DeliveryStatus
{
    Pending,
    Succeeded,
    Failed,
}

/// <summary>One POST to the integrator: what came back (a capped excerpt of the body), or why nothing did. Never holds a secret.</summary>
internal sealed record DeliveryAttempt(DateTimeOffset At, int? StatusCode, long ElapsedMs, string? Error, string? ResponseBody, int Series);

/// <summary>
/// One event for one omni channel's webhook, or for another target's (a bot's: <see cref="ChannelId"/> then holds the
/// bot's id, see <see cref="IWebhookTargets"/>); <see cref="Id"/> is the stable <c>webhook-id</c>. <see cref="Series"/>
/// counts redeliveries and <see cref="NextAttempt"/> names the attempt of that series the next queue message is
/// for, so a duplicate or stale message is recognised and dropped. <see cref="ClaimExpiresAt"/> is set while one
/// worker is sending, so a duplicate message cannot send the same attempt a second time.
/// </summary>
internal sealed record WebhookDelivery(
    string Id,
    string CompanyId,
    string ChannelId,
    string EventType,
    string? MessageId,
    string? ConversationId,
    DeliveryStatus Status,
    int Series,
    int NextAttempt,
    DateTimeOffset? NextAttemptAt,
    IReadOnlyList<DeliveryAttempt> Attempts,
    int AttemptCount,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public DateTimeOffset? ClaimExpiresAt { get; init; }

    /// <summary>The exact bytes that are signed and sent, stored once so every attempt sends the same body.</summary>
    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>Set when the payload was too large for the row and lives in Blob Storage.</summary>
    public string? PayloadBlob { get; init; }

    public string? ETag { get; init; }

    /// <summary>
    /// Stored by <see cref="IWebhookPublisher.StageAsync"/> before the message it is about: until its first attempt the sweep
    /// checks the message exists, and discards the delivery of a caller that crashed before storing it.
    /// </summary>
    public bool Staged { get; init; }
}

/// <summary>
/// What the delivery queue message carries: enough to find the row and which attempt it is for, and for the first
/// attempt of a publish the row as it was written (<see cref="Snapshot"/>), so that attempt needs no read.
/// </summary>
internal sealed record DeliveryTask(string CompanyId, string ChannelId, string DeliveryId, int Series, int Attempt)
{
    public DeliverySnapshot? Snapshot { get; init; }

    /// <summary>
    /// Set by the sweep when it queues the attempt again: the due time of the row it moved, so the attempt's record
    /// deletes that row in its transaction rather than the one the delivery row names (which the sweep replaced).
    /// </summary>
    public DateTimeOffset? DueAt { get; init; }
}

/// <summary>
/// The delivery row as the publisher wrote it (its ETag, payload and columns), and the channel's webhook as the
/// publisher saw it. The claim is written against <see cref="ETag"/>: if the row changed since (another copy claimed
/// it, a redeliver), the claim fails and the processor reads the row as it does for any other message. The signing
/// secrets stay sealed by the app's key ring, as in the channel row; nothing secret is in the message in clear.
/// </summary>
internal sealed record DeliverySnapshot(
    string ETag,
    string EventType,
    string? MessageId,
    string? ConversationId,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    byte[] Payload,
    TargetSnapshot? Target);

/// <summary>A channel's webhook URL and sealed signing secrets at <see cref="ReadAt"/>.</summary>
internal sealed record TargetSnapshot(string Url, IReadOnlyDictionary<string, string> SealedSecrets, DateTimeOffset? PreviousSecretExpiresAt, DateTimeOffset ReadAt);
