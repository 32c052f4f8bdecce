using System.Security.Cryptography;
using Omni.Channels;

namespace Omni.Webhooks;

/// <summary>
/// The omni channel's signing secrets, stored like every channel secret. After a rotation the previous secret
/// keeps signing (a second signature) until <see cref="Channel.PreviousWebhookSecretExpiresAt"/>.
/// </summary>
public static class WebhookSecrets
{
    public const string CurrentField = "webhookSecret";
    public const string PreviousField = "previousWebhookSecret";
    public static readonly TimeSpan PreviousSecretLifetime = TimeSpan.FromHours(24);

    /// <summary>Standard Webhooks form: <c>whsec_</c> and base64 of 32 random bytes.</summary>
    public static string New() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public const string UnreadableError = "The channel's signing secret cannot be decrypted (the secrets key changed); rotate it with POST …/webhook-secret/rotate, then redeliver.";

    /// <summary>
    /// The secrets that sign a delivery made at <paramref name="now"/>: the current one, and the previous one while it
    /// is still valid; null when the current one cannot be decrypted (a rotated secrets key), which no retry mends.
    /// </summary>
    public static IReadOnlyList<string>? SigningSecrets(IChannelStore store, Channel channel, DateTimeOffset now)
    {
        var secrets = new List<string>(2);
        if (!TryReveal(store, channel, CurrentField, out var current))
        {
            return null;
        }

        if (current is not null)
        {
            secrets.Add(current);
        }

        // An unreadable previous secret is left out: rotating away from an unreadable secret must make signing work at once.
        if (channel.PreviousWebhookSecretExpiresAt is { } expires && now < expires && TryReveal(store, channel, PreviousField, out var previous) && previous is not null)
        {
            secrets.Add(previous);
        }

        return secrets;
    }

    /// <summary>False when the field is there but cannot be decrypted with this app's key.</summary>
    public static bool TryReveal(IChannelStore store, Channel channel, string field, out string? secret)
    {
        try
        {
            secret = store.RevealSecret(channel, field);
            return true;
        }
        catch (CryptographicException)
        {
            secret = null;
            return false;
        }
    }
}
