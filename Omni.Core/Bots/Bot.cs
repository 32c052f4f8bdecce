namespace Omni.Bots;

/// <summary>
/// A bot (URA, chatbot) of a company: the webhook its conversations' events go to, signed with its own secret, and
/// the key it calls <c>/api/bots/*</c> with (<see cref="KeyId"/>; the key itself is only hashed, in Credentials).
/// </summary>
public sealed record Bot(string Id, string CompanyId, string Name, string WebhookUrl, string KeyId, string KeyPrefix, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>The signing secret as stored: sealed by the secrets key, bound to this bot (never shown after the create).</summary>
    internal string ProtectedSecret { get; init; } = "";
}
