using Omni.Audit;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>What rotating an omni channel's signing secret came to.</summary>
internal enum SecretRotationOutcome
{
    Rotated,
    ChannelNotFound,
    NotAnOmniChannel,
    Conflict,
}

/// <summary>The outcome, and with <see cref="SecretRotationOutcome.Rotated"/> the new secret (shown once).</summary>
internal sealed record SecretRotationResult(SecretRotationOutcome Outcome, string? Secret = null);

/// <summary>
/// A new webhook signing secret for an omni channel. The old one keeps signing (a second signature) for
/// <see cref="WebhookSecrets.PreviousSecretLifetime"/>, so an integrator can switch without losing a delivery.
/// </summary>
internal sealed class WebhookSecretRotation(IChannelStore channels, IAuditLog audit, TimeProvider clock)
{
    public async Task<SecretRotationResult> RotateAsync(string companyId, string channelId, string actor, CancellationToken cancellationToken = default)
    {
        var channel = await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return new(SecretRotationOutcome.ChannelNotFound);
        }

        if (channel.Type != ChannelTypes.Omni)
        {
            return new(SecretRotationOutcome.NotAnOmniChannel);
        }

        var secret = WebhookSecrets.New();
        var secrets = new Dictionary<string, string> { [WebhookSecrets.CurrentField] = secret };
        // A secret this app can no longer decrypt is dropped, not kept signing: rotating is how it is mended.
        DateTimeOffset? previousExpiresAt = null;
        if (WebhookSecrets.TryReveal(channels, channel, WebhookSecrets.CurrentField, out var current) && current is not null)
        {
            secrets[WebhookSecrets.PreviousField] = current;
            previousExpiresAt = clock.GetUtcNow() + WebhookSecrets.PreviousSecretLifetime;
        }

        try
        {
            await channels.UpdateAsync(channel with { PreviousWebhookSecretExpiresAt = previousExpiresAt }, secrets, cancellationToken);
        }
        catch (StorageConflictException)
        {
            return new(SecretRotationOutcome.Conflict);
        }

        await audit.WriteAsync(companyId, actor, "webhook-secret.rotated", $"channels/{channelId}", ["settings.webhookSecret"], cancellationToken);
        return new(SecretRotationOutcome.Rotated, secret);
    }
}
