using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.MercadoLivre;

internal enum NotificationReceipt
{
    /// <summary>Stored and queued: 200.</summary>
    Stored,

    /// <summary>The key is missing or is no live channel's: 401, nothing stored.</summary>
    BadKey,

    /// <summary>Not a Mercado Livre notification (no topic, resource or user_id): 400.</summary>
    Invalid,
}

/// <summary>
/// Mercado Livre's notifications for every channel of the application, on one endpoint keyed by a channel's
/// notification key (<c>{channelId}.{secret}</c>, shown when the channel is created). The key only authenticates:
/// the notification's <c>user_id</c> routes it, among that company's channels, when it is processed.
/// </summary>
internal sealed partial class MercadoLivreNotifications(IChannelStore channels, MercadoLivreNotificationStore store, ILogger<MercadoLivreNotifications> logger)
{
    public const int MaxBytes = 16 * 1024;

    /// <summary>The key as the create response shows it and the notification URL carries it.</summary>
    public static string ShownKey(string channelId, string secret) => $"{channelId}.{secret}";

    public async Task<NotificationReceipt> ReceiveAsync(string? key, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        if (await FindAsync(key, cancellationToken) is not { } channel)
        {
            LogBadKey();
            return NotificationReceipt.BadKey;
        }

        if (Parse(body) is not { } notification)
        {
            return NotificationReceipt.Invalid;
        }

        await store.StoreAsync(channel.CompanyId, channel.Id, notification, cancellationToken);
        return NotificationReceipt.Stored;
    }

    /// <summary>The notification's fields, or null when it is not one; the same event retried gives the same dedupe key.</summary>
    internal static MercadoLivreNotification? Parse(ReadOnlyMemory<byte> body)
    {
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(body.Span) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }

        return root is null ? null : Parse(root);
    }

    /// <summary>A notification's fields (as posted, or as <c>missed_feeds</c> lists it), or null when it is not one.</summary>
    internal static MercadoLivreNotification? Parse(JsonObject root)
    {
        if (MercadoLivreApi.Text(root["topic"]) is not { Length: > 0 and <= 100 } topic
            || MercadoLivreApi.Text(root["resource"]) is not { Length: > 0 and <= 500 } resource
            || MercadoLivreApi.Text(root["user_id"]) is not { Length: > 0 and <= 32 } user)
        {
            return null;
        }

        var dedupe = MercadoLivreApi.Text(root["_id"]) is { Length: > 0 } id
            ? $"id|{id}"
            : $"event|{topic}|{resource}|{user}|{MercadoLivreApi.Text(root["received"])}";
        return new MercadoLivreNotification(topic, resource, user, MercadoLivreApi.Text(root["application_id"]), dedupe);
    }

    private async Task<Channel?> FindAsync(string? key, CancellationToken cancellationToken)
    {
        if (key?.Split('.', 2) is not [var channelId, var secret] || secret.Length == 0
            || await channels.FindCompanyAsync(channelId, cancellationToken) is not { } companyId
            || await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken) is not { Type: ChannelTypes.MercadoLivre } channel
            || channels.RevealSecret(channel, MercadoLivreSettingsRules.NotificationKeyField) is not { } expected)
        {
            return null;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(expected)) ? channel : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mercado Livre notification refused: the key is missing or wrong")]
    private partial void LogBadKey();
}
