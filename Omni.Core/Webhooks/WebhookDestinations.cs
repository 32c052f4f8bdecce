using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.Webhooks;

/// <summary>
/// Where an attempt goes: the URL and signing secrets, or why nothing can be sent (a final failure).
/// <see cref="Channel"/> is set for a channel's delivery read for this attempt, whose 410 disables the channel's
/// webhook; <see cref="FromSnapshot"/> says the channel came from the publish instead (the row is read on a 410).
/// </summary>
internal sealed record WebhookDestination(Uri? Url, IReadOnlyList<string>? Secrets, string? Problem, Channel? Channel, bool FromSnapshot = false);

/// <summary>Resolves a delivery's target: an omni channel's webhook, or another target's (a bot's, by <see cref="IWebhookTargets"/>).</summary>
internal sealed partial class WebhookDestinations(IChannelStore channels, IWebhookTargets targets, ILogger<WebhookDestinations> logger)
{
    /// <summary>
    /// How old the channel a publish carried to its first attempt may be for that attempt to use it instead of reading
    /// the channel: the same bound as receive_hook's channel check. A settings change, a rotation or another
    /// delivery's 410 is therefore seen by an attempt at most this long after it, and by every retry at once.
    /// </summary>
    public static readonly TimeSpan SnapshotLifetime = TimeSpan.FromSeconds(30);

    /// <param name="published">The channel's webhook as the publish saw it (first attempts only), used while it is fresh.</param>
    public async Task<WebhookDestination> FindAsync(WebhookDelivery delivery, TargetSnapshot? published, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (published is { } snapshot && now - snapshot.ReadAt <= SnapshotLifetime && !targets.Owns(delivery.ChannelId)
            && Uri.TryCreate(snapshot.Url, UriKind.Absolute, out var publishedUrl))
        {
            // Only what revealing the secrets needs: their purpose is bound to the company, channel and field.
            var sealedChannel = new Channel(delivery.ChannelId, delivery.CompanyId, ChannelTypes.Omni, "", "", new System.Text.Json.Nodes.JsonObject(), snapshot.SealedSecrets, snapshot.ReadAt, snapshot.ReadAt)
            {
                PreviousWebhookSecretExpiresAt = snapshot.PreviousSecretExpiresAt,
            };
            if (WebhookSecrets.SigningSecrets(channels, sealedChannel, now) is { } publishedSecrets)
            {
                return new(publishedUrl, publishedSecrets, null, null, FromSnapshot: true);
            }

            // Sealed under a key this instance does not hold: the secrets key rotated since the publish, and the row
            // has been (or is being) re-wrapped under the new one. The channel as stored decides, as for a retry.
            LogSnapshotUnreadable(delivery.ChannelId, delivery.Id);
        }

        if (targets.Owns(delivery.ChannelId))
        {
            var target = await targets.FindAsync(delivery.CompanyId, delivery.ChannelId, now, cancellationToken);
            if (target is null)
            {
                return new(null, null, "The webhook's owner was deleted.", null);
            }

            return !Uri.TryCreate(target.Url, UriKind.Absolute, out var targetUrl) ? new(null, null, "No webhook URL.", null)
                : target.Secrets is { } targetSecrets ? new(targetUrl, targetSecrets, null, null)
                : Unreadable(delivery, null);
        }

        var channel = await channels.GetAsync(delivery.CompanyId, delivery.ChannelId, includeDeleted: true, cancellationToken);
        if (channel is null || channel.IsDeleted)
        {
            return new(null, null, "The channel was deleted.", null);
        }

        if (channel.WebhookDisabledAt is not null)
        {
            return new(null, null, "The channel's webhook is disabled since its endpoint answered 410 Gone; saving the channel's settings enables it again.", channel);
        }

        if (!Uri.TryCreate(channel.GetString("webhookUrl"), UriKind.Absolute, out var url))
        {
            return new(null, null, "The channel has no webhook URL.", channel);
        }

        // Final: every retry would fail the same way, and a throw here would have the host retry the message forever.
        return WebhookSecrets.SigningSecrets(channels, channel, now) is { } secrets ? new(url, secrets, null, channel) : Unreadable(delivery, channel);
    }

    private WebhookDestination Unreadable(WebhookDelivery delivery, Channel? channel)
    {
        LogUnreadableSecret(delivery.ChannelId, delivery.Id);
        return new(null, null, WebhookSecrets.UnreadableError, channel);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The signing secret delivery {DeliveryId} carried for channel {ChannelId} is sealed under a key this instance does not hold; reading the channel")]
    private partial void LogSnapshotUnreadable(string channelId, string deliveryId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{TargetId}'s webhook signing secret cannot be decrypted with this app's secrets key; delivery {DeliveryId} failed")]
    private partial void LogUnreadableSecret(string targetId, string deliveryId);
}
