using System.Globalization;
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
    /// Stores a new delivery with its payload and, with <paramref name="due"/>, its due row, in one transaction. With an
    /// <paramref name="idempotencyKey"/> the same key never makes a second delivery: the first one is returned instead
    /// (its due row is its own), so a retried publish keeps its <c>webhook-id</c>.
    /// </summary>
    Task<WebhookDelivery> CreateAsync(WebhookDelivery delivery, string? idempotencyKey, DueAttempt? due = null, CancellationToken cancellationToken = default);

    /// <summary>The delivery with its attempts and payload; null when it is not this channel's.</summary>
    Task<WebhookDelivery?> GetAsync(string companyId, string channelId, string deliveryId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the delivery if it has not changed since it was read; throws <see cref="StorageConflictException"/> when it has.
    /// In the same transaction it writes the due row of the attempt it now waits for (<paramref name="expect"/>) and deletes
    /// the one of the attempt it moved past (<paramref name="done"/>); a <paramref name="done"/> row gone already (the sweep
    /// moved it) is left to the sweep, which drops it once it sees the delivery moved on.
    /// </summary>
    Task<WebhookDelivery> UpdateAsync(WebhookDelivery delivery, DueAttempt? expect = null, DueAttempt? done = null, CancellationToken cancellationToken = default);

    /// <summary>A page of summaries (no payload, no attempt list), newest first.</summary>
    Task<PagedResult<WebhookDelivery>> ListAsync(string companyId, string channelId, DeliveryStatus? status, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default);

    /// <summary>The channel's due rows due at or before <paramref name="now"/>, oldest first: one range query on its partition.</summary>
    IAsyncEnumerable<DueAttempt> DueAsync(string companyId, string channelId, DateTimeOffset now, int max, CancellationToken cancellationToken = default);

    /// <summary>Moves a due row to <paramref name="to"/> in one transaction; false when <paramref name="from"/> was gone (another sweep moved or dropped it).</summary>
    Task<bool> RescheduleAsync(DueAttempt from, DueAttempt to, CancellationToken cancellationToken = default);

    /// <summary>Deletes a due row; one gone already is what was wanted.</summary>
    Task DropAsync(DueAttempt due, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes a delivery (row, idempotency key, due row, payload blob) if it has not changed since it was read;
    /// false when it has (another writer claimed or touched it) and nothing was removed.
    /// </summary>
    Task<bool> DiscardAsync(WebhookDelivery delivery, string? idempotencyKey, DueAttempt? due, CancellationToken cancellationToken = default);
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
    private const string DuePrefix = "due|";
    private static readonly string[] SummaryColumns =
        ["PartitionKey", "RowKey", "CompanyId", "ChannelId", "EventType", "MessageId", "ConversationId", "Status", "Series", "NextAttempt",
         "NextAttemptAt", "AttemptCount", "LastStatusCode", "LastError", "CreatedAt", "UpdatedAt", "ClaimExpiresAt", "PayloadBlob", "Staged"];

    private readonly TableClient _table = tables.GetTableClient(TableName);
    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(ContainerName);

    /// <summary>Opaque, in the Standard Webhooks <c>msg_</c> style, and sorting newest first within a channel.</summary>
    public static string NewId(DateTimeOffset now) =>
        IdPrefix + Ids.ReverseChronological(now) + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public async Task<WebhookDelivery> CreateAsync(WebhookDelivery delivery, string? idempotencyKey, DueAttempt? due = null, CancellationToken cancellationToken = default)
    {
        if (delivery.Payload.Length > InlinePayloadLimit)
        {
            // The blob first: a row must never point at a payload that is not there.
            var name = $"{delivery.CompanyId}/{delivery.ChannelId}/{delivery.Id}.json";
            await _container.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(delivery.Payload), overwrite: true, cancellationToken);
            delivery = delivery with { PayloadBlob = name };
        }

        var entity = ToEntity(delivery);
        if (idempotencyKey is null && due is null)
        {
            var added = await _table.AddEntityAsync(entity, cancellationToken);
            return delivery with { ETag = added.Headers.ETag?.ToString() };
        }

        // The delivery, its key and its due row in one entity group transaction: all or none, one storage transaction.
        List<TableTransactionAction> actions = [new(TableTransactionActionType.Add, entity)];
        var index = idempotencyKey is null ? null : new TableEntity(entity.PartitionKey, IndexRowKey(idempotencyKey)) { ["DeliveryId"] = delivery.Id };
        if (index is not null)
        {
            actions.Add(new(TableTransactionActionType.Add, index));
        }

        if (due is not null)
        {
            actions.Add(new(TableTransactionActionType.UpsertReplace, DueEntity(due)));
        }

        try
        {
            var response = await _table.SubmitTransactionAsync(actions, cancellationToken);
            return delivery with { ETag = response.Value[0].Headers.ETag?.ToString() };
        }
        catch (RequestFailedException ex) when (ex.Status == 409 && index is not null)
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

    public async Task<WebhookDelivery> UpdateAsync(WebhookDelivery delivery, DueAttempt? expect = null, DueAttempt? done = null, CancellationToken cancellationToken = default)
    {
        var etag = delivery.ETag is { } tag ? new ETag(tag) : ETag.All;
        if (done is not null && expect is not null && DueRowKey(done) == DueRowKey(expect))
        {
            // The same row: writing the new one is all there is to do (a transaction may not touch one row twice).
            done = null;
        }

        try
        {
            if (expect is null && done is null)
            {
                var response = await _table.UpdateEntityAsync(ToEntity(delivery), etag, TableUpdateMode.Replace, cancellationToken);
                return delivery with { ETag = response.Headers.ETag?.ToString() };
            }

            List<TableTransactionAction> actions = [new(TableTransactionActionType.UpdateReplace, ToEntity(delivery), etag)];
            if (expect is not null)
            {
                actions.Add(new(TableTransactionActionType.UpsertReplace, DueEntity(expect)));
            }

            if (done is not null)
            {
                actions.Add(new(TableTransactionActionType.Delete, DueEntity(done), ETag.All));
            }

            var responses = await _table.SubmitTransactionAsync(actions, cancellationToken);
            return delivery with { ETag = responses.Value[0].Headers.ETag?.ToString() };
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new StorageConflictException($"Webhook delivery {delivery.Id} changed since it was read.", ex);
        }
        catch (RequestFailedException ex) when (ex.Status == 404 && done is not null)
        {
            // The due row is gone (the sweep moved it to a later time): the replace alone, still under the ETag; the sweep
            // drops the moved row once it sees the delivery moved on. A delivery row gone answers 404 again, as without a due row.
            return await UpdateAsync(delivery, expect, null, cancellationToken);
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

    public async IAsyncEnumerable<DueAttempt> DueAsync(string companyId, string channelId, DateTimeOffset now, int max,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var partition = PartitionKey(companyId, channelId);
        var upper = DuePrefix + Ticks(now.UtcTicks + 1);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {DuePrefix} and RowKey lt {upper}");
        var count = 0;
        await foreach (var e in _table.QueryEntitiesAsync(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            if (count++ >= max)
            {
                yield break;
            }

            // The due time is read from the key, not a property, so deleting the row rebuilds its key to the tick.
            var ticks = e.RowKey.AsSpan(DuePrefix.Length, 19);
            yield return new DueAttempt(new DateTimeOffset(long.Parse(ticks, CultureInfo.InvariantCulture), TimeSpan.Zero),
                new DeliveryTask(companyId, channelId, e.GetString("DeliveryId"), e.GetInt32("Series") ?? 1, e.GetInt32("Attempt") ?? 1),
                e.GetInt32("Rescues") ?? 0);
        }
    }

    public async Task<bool> RescheduleAsync(DueAttempt from, DueAttempt to, CancellationToken cancellationToken = default)
    {
        if (DueRowKey(from) == DueRowKey(to))
        {
            await _table.UpsertEntityAsync(DueEntity(to), TableUpdateMode.Replace, cancellationToken);
            return true;
        }

        try
        {
            await _table.SubmitTransactionAsync([new(TableTransactionActionType.UpsertReplace, DueEntity(to)), new(TableTransactionActionType.Delete, DueEntity(from), ETag.All)], cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    public Task DropAsync(DueAttempt due, CancellationToken cancellationToken = default) =>
        _table.DeleteIfExistsAsync(PartitionKey(due.Task.CompanyId, due.Task.ChannelId), DueRowKey(due), cancellationToken);

    public async Task<bool> DiscardAsync(WebhookDelivery delivery, string? idempotencyKey, DueAttempt? due, CancellationToken cancellationToken = default)
    {
        var partition = PartitionKey(delivery.CompanyId, delivery.ChannelId);
        var row = new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, delivery.Id), delivery.ETag is { } tag ? new ETag(tag) : ETag.All);
        var key = idempotencyKey is null ? null : new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, IndexRowKey(idempotencyKey)), ETag.All);
        var dueRow = due is null ? null : new TableTransactionAction(TableTransactionActionType.Delete, DueEntity(due), ETag.All);
        // All at once when all are there; else without the due row (the sweep drops a moved one: its delivery is gone), the
        // row and its key still together, so a key never points at a delivery that is not there.
        foreach (var actions in new[] { new[] { row, key, dueRow }, [row, key] })
        {
            try
            {
                await _table.SubmitTransactionAsync(actions.OfType<TableTransactionAction>(), cancellationToken);
                await DeleteBlobAsync(delivery, cancellationToken);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
                return false;
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // A row of the transaction is gone: try with fewer, then one by one.
            }
        }

        try
        {
            await _table.DeleteEntityAsync(partition, delivery.Id, row.ETag, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return false;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Gone already: its key and due row follow.
        }

        if (key is not null)
        {
            await _table.DeleteIfExistsAsync(partition, key.Entity.RowKey, cancellationToken);
        }

        if (dueRow is not null)
        {
            await _table.DeleteIfExistsAsync(partition, dueRow.Entity.RowKey, cancellationToken);
        }

        await DeleteBlobAsync(delivery, cancellationToken);
        return true;
    }

    private async Task DeleteBlobAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        if (delivery.PayloadBlob is { } blob)
        {
            await _container.GetBlobClient(blob).DeleteIfExistsAsync(cancellationToken: cancellationToken);
        }
    }

    // "due|" sorts before the keys' "key_" and the deliveries' "msg_" rows, outside ListAsync's range.
    private static string DueRowKey(DueAttempt due) =>
        string.Create(CultureInfo.InvariantCulture, $"{DuePrefix}{Ticks(due.DueAt.UtcTicks)}|{due.Task.DeliveryId}|{due.Task.Series}|{due.Task.Attempt}");

    private static TableEntity DueEntity(DueAttempt due) => new(PartitionKey(due.Task.CompanyId, due.Task.ChannelId), DueRowKey(due))
    {
        ["DeliveryId"] = due.Task.DeliveryId,
        ["Series"] = due.Task.Series,
        ["Attempt"] = due.Task.Attempt,
        ["Rescues"] = due.Rescues,
    };

    // Fixed-width ticks sort as text in time order.
    private static string Ticks(long ticks) => ticks.ToString("D19", CultureInfo.InvariantCulture);

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
        ["Staged"] = d.Staged ? true : null,
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
        Staged = e.GetBoolean("Staged") ?? false,
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
