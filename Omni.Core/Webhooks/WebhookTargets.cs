namespace Omni.Webhooks;

/// <summary>A webhook that belongs to no channel (a bot's): where to POST, and the secrets that sign (null: unreadable).</summary>
public sealed record WebhookTarget(string Url, IReadOnlyList<string>? Secrets);

/// <summary>
/// Finds the webhook of a delivery addressed to something other than a channel. A delivery keeps such a target's id
/// where a channel's delivery keeps the channel id (its partition, queue message and due row), so the one engine
/// claims, signs, retries and audits both; the owner of the target (<c>Bots/</c>) implements this.
/// </summary>
public interface IWebhookTargets
{
    /// <summary>Whether a delivery's target id names one of these targets rather than a channel.</summary>
    bool Owns(string targetId);

    /// <summary>The target as it is now; null when it was deleted.</summary>
    Task<WebhookTarget?> FindAsync(string companyId, string targetId, DateTimeOffset now, CancellationToken cancellationToken = default);
}
