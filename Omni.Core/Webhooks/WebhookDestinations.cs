using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.Webhooks;

/// <summary>
/// Where an attempt goes, read fresh for each attempt: the URL and signing secrets, or why nothing can be sent (a
/// final failure). <see cref="Channel"/> is set for a channel's delivery, whose 410 disables the channel's webhook.
/// </summary>
internal sealed record WebhookDestination(Uri? Url, IReadOnlyList<string>? Secrets, string? Problem, Channel? Channel);

/// <summary>Resolves a delivery's target: an omni channel's webhook, or another target's (a bot's, by <see cref="IWebhookTargets"/>).</summary>
internal sealed partial class WebhookDestinations(IChannelStore channels, IWebhookTargets targets, ILogger<WebhookDestinations> logger)
{
    public async Task<WebhookDestination> FindAsync(WebhookDelivery delivery, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
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

    [LoggerMessage(Level = LogLevel.Error, Message = "{TargetId}'s webhook signing secret cannot be decrypted with this app's secrets key; delivery {DeliveryId} failed")]
    private partial void LogUnreadableSecret(string targetId, string deliveryId);
}
