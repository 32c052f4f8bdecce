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

    /// <summary>The secrets that sign a delivery made at <paramref name="now"/>: the current one, and the previous one while it is still valid.</summary>
    public static IReadOnlyList<string> SigningSecrets(IChannelStore store, Channel channel, DateTimeOffset now)
    {
        var secrets = new List<string>(2);
        if (store.RevealSecret(channel, CurrentField) is { } current)
        {
            secrets.Add(current);
        }

        if (channel.PreviousWebhookSecretExpiresAt is { } expires && now < expires && store.RevealSecret(channel, PreviousField) is { } previous)
        {
            secrets.Add(previous);
        }

        return secrets;
    }
}
