using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.MercadoLivre;

/// <summary>One notification as Mercado Livre sent it, reduced to what processing needs.</summary>
internal sealed record MercadoLivreNotification(string Topic, string Resource, string UserId, string? ApplicationId, string DedupeKey);

/// <summary>The queue message that asks the MercadoLivreNotification function to process one stored notification.</summary>
internal sealed record MercadoLivreNotificationWork(string CompanyId, string ChannelId, string Id, int Attempt = 1);

/// <summary>
/// Notifications kept in the <c>MercadoLivreNotifications</c> table before they are acknowledged, one row per event
/// (Mercado Livre's <c>_id</c>, else topic, resource, user and receipt time: what its retries of one event share), and
/// queued for processing. A retry finds the row and is not queued again, unless the first copy's queue message may
/// have been lost (an old row not yet processed); a processed row is never processed again.
/// </summary>
internal sealed class MercadoLivreNotificationStore(TableServiceClient tables, QueueServiceClient queues, IOptions<MercadoLivreOptions> options, TimeProvider clock)
{
    public const string TableName = "MercadoLivreNotifications";

    // A row this old without its processing may have lost its queue message (a crash between the two writes).
    private static readonly TimeSpan Requeue = TimeSpan.FromMinutes(2);

    private readonly TableClient _table = tables.GetTableClient(TableName);
    private readonly QueueClient _queue = queues.GetQueueClient(options.Value.NotificationsQueueName);

    /// <summary>Stores and queues the notification; when this returns it survives a crash of this process.</summary>
    public async Task StoreAsync(string companyId, string channelId, MercadoLivreNotification notification, CancellationToken cancellationToken = default)
    {
        var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(notification.DedupeKey)));
        var added = await _table.TryAddAsync(new TableEntity(companyId, id)
        {
            ["ChannelId"] = channelId,
            ["Topic"] = notification.Topic,
            ["Resource"] = notification.Resource,
            ["UserId"] = notification.UserId,
            ["ApplicationId"] = notification.ApplicationId,
        }, cancellationToken);
        if (!added && await _table.FindAsync(companyId, id, cancellationToken) is { } row
            && (row.GetDateTimeOffset("ProcessedAt") is not null || row.Timestamp > clock.GetUtcNow() - Requeue))
        {
            return;
        }

        await EnqueueAsync(new MercadoLivreNotificationWork(companyId, channelId, id), cancellationToken: cancellationToken);
    }

    public async Task EnqueueAsync(MercadoLivreNotificationWork work, TimeSpan? delay = null, CancellationToken cancellationToken = default) =>
        await _queue.EnqueueAsync(JsonSerializer.Serialize(work, MercadoLivreJsonContext.Default.MercadoLivreNotificationWork), delay, cancellationToken);

    /// <summary>The stored notification, or null when it is gone or already processed.</summary>
    public async Task<MercadoLivreNotification?> ReadPendingAsync(string companyId, string id, CancellationToken cancellationToken = default)
    {
        if (await _table.FindAsync(companyId, id, cancellationToken) is not { } row || row.GetDateTimeOffset("ProcessedAt") is not null)
        {
            return null;
        }

        return new MercadoLivreNotification(row.GetString("Topic") ?? "", row.GetString("Resource") ?? "", row.GetString("UserId") ?? "", row.GetString("ApplicationId"), id);
    }

    /// <summary>Marks it processed (or given up, with why), so no redelivery or retry of it runs again.</summary>
    public async Task FinishAsync(string companyId, string id, string outcome, CancellationToken cancellationToken = default) =>
        await _table.UpdateEntityAsync(new TableEntity(companyId, id) { ["ProcessedAt"] = clock.GetUtcNow(), ["Outcome"] = outcome }, ETag.All, TableUpdateMode.Merge, cancellationToken);

    public static MercadoLivreNotificationWork? ParseWork(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, MercadoLivreJsonContext.Default.MercadoLivreNotificationWork);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MercadoLivreNotificationWork))]
internal sealed partial class MercadoLivreJsonContext : JsonSerializerContext;
