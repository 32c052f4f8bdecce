namespace Omni.Credentials;

public enum CredentialKind
{
    Management,
    Channel,

    /// <summary>A bot's key: <c>/api/bots/*</c> for the conversations its bot handles.</summary>
    Bot,
}

/// <summary>Who an API key belongs to, as found from the key's hash.</summary>
public sealed record ResolvedCredential(
    CredentialKind Kind,
    string CompanyId,
    string KeyId,
    string? ChannelId,
    string Name,
    IReadOnlySet<string> Scopes,
    DateTimeOffset? LastUsedAt,
    string KeyHash)
{
    /// <summary>The bot a <see cref="CredentialKind.Bot"/> key acts for.</summary>
    public string? BotId { get; init; }
}

public sealed record ManagementKey(string Id, string CompanyId, string Name, IReadOnlyList<string> Scopes, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

public sealed record BotKey(string Id, string CompanyId, string BotId, string Prefix, DateTimeOffset CreatedAt);

public sealed record ChannelApiKey(string Id, string CompanyId, string ChannelId, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

/// <summary>A newly made key and its secret, which exists only in this value and the response that shows it once.</summary>
public sealed record IssuedKey<TKey>(TKey Key, string Secret);
