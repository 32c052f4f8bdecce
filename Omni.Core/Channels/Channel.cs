using System.Text.Json.Nodes;

namespace Omni.Channels;

/// <summary>
/// A configured channel. <see cref="Settings"/> holds only what may be shown; secret fields live in
/// <see cref="ProtectedSecrets"/>, encrypted, and are revealed only to the adapter that needs them.
/// </summary>
public sealed record Channel(
    string Id,
    string CompanyId,
    string Type,
    string Name,
    string ServiceId,
    JsonObject Settings,
    IReadOnlyDictionary<string, string> ProtectedSecrets,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public DateTimeOffset? DeletedAt { get; init; }

    /// <summary>Set when the integrator's endpoint answered 410 Gone; cleared when the settings are saved again.</summary>
    public DateTimeOffset? WebhookDisabledAt { get; init; }

    /// <summary>After a rotation the previous webhook secret keeps signing until this instant.</summary>
    public DateTimeOffset? PreviousWebhookSecretExpiresAt { get; init; }

    /// <summary>The stored entity's version, for optimistic concurrency on read-modify-write.</summary>
    public string? ETag { get; init; }

    public bool IsDeleted => DeletedAt is not null;

    public string? GetString(string setting) => Settings[setting] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
