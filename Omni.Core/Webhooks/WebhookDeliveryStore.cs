using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>Deliveries of one channel, newest first; every call keyed by company and channel.</summary>
internal interface IWebhookDeliveryStore
{
    /// <summary>
    /// Stores a new delivery with its payload. With an <paramref name="idempotencyKey"/> the same key never makes a
    /// second delivery: the first one is returned instead, so a retried publish keeps its <c>webhook-id</c>.
    /// </summary>
    Task<WebhookDelivery> CreateAsync(WebhookDelivery delivery, string? idempotencyKey, CancellationToken cancellationToken = default);

    /// <summary>The delivery with its attempts and payload; null when it is not this channel's.</summary>
    Task<WebhookDelivery?> GetAsync(string companyId, string channelId, string deliveryId, CancellationToken cancellationToken = default);

    /// <summary>Replaces the delivery if it has not changed since it was read; throws <see cref="StorageConflictException"/> when it has.</summary>
    Task<WebhookDelivery> UpdateAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default);

    /// <summary>A page of summaries (no payload, no attempt list), newest first.</summary>
    Task<PagedResult<WebhookDelivery>> ListAsync(string companyId, string channelId, DeliveryStatus? status, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default);
}

internal sealed class TableWebhookDeliveryStore(TableServiceClient tables, BlobServiceClient blobs) : IWebhookDeliveryStore
{
    public const string TableName = "WebhookDeliveries";
    public const string ContainerName = "webhook-payloads";

    /// <summary>Above this a payload goes to Blob Storage (a binary property holds at most 64 KiB, and the row has the attempts too).</summary>
    public const int InlinePayloadLimit = 48 * 1024;

    private const int MaxAttemptsBytes = 60 * 1024;
    private const string IdPrefix = "msg_";
    private const string IndexPrefix = "key_";
    private static readonly string[] SummaryColumns =
        ["PartitionKey", "RowKey", "CompanyId", "ChannelId", "EventType", "MessageId", "ConversationId", "Status", "Series", "NextAttempt",
         "NextAttemptAt", "AttemptCount", "LastStatusCode", "LastError", "CreatedAt", "UpdatedAt", "ClaimExpiresAt", "PayloadBlob"];

    private readonly TableClient _table = tables.GetTableClient(TableName);
    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(ContainerName);

    /// <summary>Opaque, in the Standard Webhooks <c>msg_</c> style, and sorting newest first within a channel.</summary>
    public static string NewId(DateTimeOffset now) =>
        IdPrefix + Ids.ReverseChronological(now) + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public async Task<WebhookDelivery> CreateAsync(WebhookDelivery delivery, string? idempotencyKey, CancellationToken cancellationToken = default)
    {
        if (delivery.Payload.Length > InlinePayloadLimit)
        {
            // The blob first: a row must never point at a payload that is not there.
            var name = $"{delivery.CompanyId}/{delivery.ChannelId}/{delivery.Id}.json";
            await _container.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(delivery.Payload), overwrite: true, cancellationToken);
            delivery = delivery with { PayloadBlob = name };
        }

        var entity = ToEntity(delivery);
        if (idempotencyKey is null)
        {
            var added = await _table.AddEntityAsync(entity, cancellationToken);
            return delivery with { ETag = added.Headers.ETag?.ToString() };
        }

        // The delivery and its key in one entity group transaction: both or neither, one storage transaction.
        var index = new TableEntity(entity.PartitionKey, IndexRowKey(idempotencyKey)) { ["DeliveryId"] = delivery.Id };
        try
        {
            var response = await _table.SubmitTransactionAsync([new(TableTransactionActionType.Add, entity), new(TableTransactionActionType.Add, index)], cancellationToken);
            return delivery with { ETag = response.Value[0].Headers.ETag?.ToString() };
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            if (delivery.PayloadBlob is { } orphan)
            {
                await _container.GetBlobClient(orphan).DeleteIfExistsAsync(cancellationToken: cancellationToken);
            }

            var existing = await _table.GetEntityAsync<TableEntity>(entity.PartitionKey, index.RowKey, cancellationToken: cancellationToken);
            return await GetAsync(delivery.CompanyId, delivery.ChannelId, existing.Value.GetString("DeliveryId"), cancellationToken)
                ?? throw new InvalidOperationException($"Delivery index {index.RowKey} points at a delivery that does not exist.");
        }
    }

    public async Task<WebhookDelivery?> GetAsync(string companyId, string channelId, string deliveryId, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(deliveryId) || !deliveryId.StartsWith(IdPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var response = await _table.GetEntityIfExistsAsync<TableEntity>(PartitionKey(companyId, channelId), deliveryId, cancellationToken: cancellationToken);
        if (!response.HasValue || response.Value is not { } e)
        {
            return null;
        }

        var delivery = FromEntity(e);
        if (delivery.PayloadBlob is { } blob)
        {
            var content = await _container.GetBlobClient(blob).DownloadContentAsync(cancellationToken);
            delivery = delivery with { Payload = content.Value.Content.ToMemory() };
        }

        return delivery;
    }

    public async Task<WebhookDelivery> UpdateAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default)
    {
        var etag = delivery.ETag is { } tag ? new ETag(tag) : ETag.All;
        try
        {
            var response = await _table.UpdateEntityAsync(ToEntity(delivery), etag, TableUpdateMode.Replace, cancellationToken);
            return delivery with { ETag = response.Headers.ETag?.ToString() };
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new StorageConflictException($"Webhook delivery {delivery.Id} changed since it was read.", ex);
        }
    }

    public Task<PagedResult<WebhookDelivery>> ListAsync(string companyId, string channelId, DeliveryStatus? status, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var partition = PartitionKey(companyId, channelId);
        // Ids sort newest first, so "since" is an upper bound on the row key: no scan past it.
        var upper = since is { } s ? IdPrefix + Ids.ReverseChronological(s) + "~" : "msg`";
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey gt {IdPrefix} and RowKey lt {upper}");
        if (status is { } st)
        {
            filter += " and " + TableClient.CreateQueryFilter($"Status eq {StatusName(st)}");
        }

        return _table.ReadPageAsync(filter, SummaryColumns, limit, continuationToken, FromEntity, cancellationToken);
    }

    private static string PartitionKey(string companyId, string channelId) => $"{companyId}~{channelId}";

    // Hashed: message ids come from other features and need not fit the row key alphabet.
    private static string IndexRowKey(string key) => IndexPrefix + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    private static string StatusName(DeliveryStatus status) => status.ToString().ToLowerInvariant();

    private static TableEntity ToEntity(WebhookDelivery d) => new(PartitionKey(d.CompanyId, d.ChannelId), d.Id)
    {
        ["CompanyId"] = d.CompanyId,
        ["ChannelId"] = d.ChannelId,
        ["EventType"] = d.EventType,
        ["MessageId"] = d.MessageId,
        ["ConversationId"] = d.ConversationId,
        ["Status"] = StatusName(d.Status),
        ["Series"] = d.Series,
        ["NextAttempt"] = d.NextAttempt,
        ["NextAttemptAt"] = d.NextAttemptAt,
        ["AttemptCount"] = d.AttemptCount,
        ["LastStatusCode"] = d.LastStatusCode,
        ["LastError"] = d.LastError,
        ["Attempts"] = SerializeAttempts(d.Attempts),
        ["CreatedAt"] = d.CreatedAt,
        ["UpdatedAt"] = d.UpdatedAt,
        ["ClaimExpiresAt"] = d.ClaimExpiresAt,
        ["Payload"] = d.PayloadBlob is null ? d.Payload.ToArray() : null,
        ["PayloadBlob"] = d.PayloadBlob,
    };

    private static WebhookDelivery FromEntity(TableEntity e) => new(
        e.RowKey,
        e.GetString("CompanyId"),
        e.GetString("ChannelId"),
        e.GetString("EventType"),
        e.GetString("MessageId"),
        e.GetString("ConversationId"),
        Enum.Parse<DeliveryStatus>(e.GetString("Status"), ignoreCase: true),
        e.GetInt32("Series") ?? 1,
        e.GetInt32("NextAttempt") ?? 1,
        e.GetDateTimeOffset("NextAttemptAt"),
        e.GetBinary("Attempts") is { Length: > 0 } attempts ? JsonSerializer.Deserialize(attempts, WebhookJsonContext.Default.ListDeliveryAttempt) ?? [] : [],
        e.GetInt32("AttemptCount") ?? 0,
        e.GetInt32("LastStatusCode"),
        e.GetString("LastError"),
        e.GetDateTimeOffset("CreatedAt") ?? default,
        e.GetDateTimeOffset("UpdatedAt") ?? default)
    {
        ClaimExpiresAt = e.GetDateTimeOffset("ClaimExpiresAt"),
        Payload = e.GetBinary("Payload") ?? [],
        PayloadBlob = e.GetString("PayloadBlob"),
        ETag = e.ETag.ToString(),
    };

    // A binary property holds 64 KiB: keep the newest attempts that fit (AttemptCount still counts them all).
    private static byte[] SerializeAttempts(IReadOnlyList<DeliveryAttempt> attempts)
    {
        var list = attempts.ToList();
        while (true)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(list, WebhookJsonContext.Default.ListDeliveryAttempt);
            if (bytes.Length <= MaxAttemptsBytes || list.Count <= 1)
            {
                return bytes;
            }

            list.RemoveAt(0);
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<DeliveryAttempt>))]
[JsonSerializable(typeof(DeliveryTask))]
internal sealed partial class WebhookJsonContext : JsonSerializerContext;
