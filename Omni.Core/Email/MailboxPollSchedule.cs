using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Email;

/// <summary>
/// Where the poll timer has got to with one mailbox: every due instant before <see cref="QueuedUntil"/> is queued.
/// A run that is queueing it holds a claim (<see cref="ClaimOwner"/> until <see cref="ClaimUntil"/>); others leave
/// the row alone until the claim is settled or runs out. <see cref="ETag"/> null: no row yet.
/// </summary>
public sealed record MailboxSchedule(string ChannelId, string CompanyId, DateTimeOffset? QueuedUntil, string? ClaimOwner, DateTimeOffset? ClaimUntil, string? ETag)
{
    public bool IsClaimedByAnother(string owner, DateTimeOffset now) => ClaimOwner is not null && ClaimOwner != owner && ClaimUntil > now;
}

/// <summary>
/// The timer's schedule rows (table <c>MailboxSchedule</c>): partition = one of <see cref="Shards"/> shards of the
/// channel id, so a shard's rows are read in one query and written up to <see cref="BatchSize"/> at a time in one
/// entity-group transaction, each row under its ETag: a batch another run changed first fails whole
/// (<see cref="StorageConflictException"/>), and nothing of it is half-claimed.
/// </summary>
public sealed class MailboxPollSchedule(TableServiceClient tables)
{
    public const string Table = "MailboxSchedule";

    public const int Shards = 16;

    /// <summary>The service's limit of actions in one transaction.</summary>
    public const int BatchSize = 100;

    private readonly TableClient _table = tables.GetTableClient(Table);

    public static string ShardOf(string channelId) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(channelId))) % Shards).ToString("D2", System.Globalization.CultureInfo.InvariantCulture);

    public async Task<Dictionary<string, MailboxSchedule>> ReadShardAsync(string shard, CancellationToken cancellationToken = default)
    {
        var rows = new Dictionary<string, MailboxSchedule>(StringComparer.Ordinal);
        await foreach (var e in _table.QueryEntitiesAsync(TableClient.CreateQueryFilter($"PartitionKey eq {shard}"), cancellationToken: cancellationToken))
        {
            rows[e.RowKey] = new MailboxSchedule(e.RowKey, e.GetString("CompanyId"), e.GetDateTimeOffset("QueuedUntil"), e.GetString("ClaimOwner"), e.GetDateTimeOffset("ClaimUntil"), e.ETag.ToString());
        }

        return rows;
    }

    /// <summary>
    /// Writes rows of one shard (at most <see cref="BatchSize"/>) in one transaction: new rows are added, the others
    /// replaced as they were read; answers them with their new ETags.
    /// </summary>
    public async Task<IReadOnlyList<MailboxSchedule>> WriteAsync(string shard, IReadOnlyList<MailboxSchedule> rows, CancellationToken cancellationToken = default)
    {
        var actions = rows.Select(r => r.ETag is { } etag
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, ToEntity(shard, r), new ETag(etag))
            : new TableTransactionAction(TableTransactionActionType.Add, ToEntity(shard, r))).ToList();
        var responses = await _table.SubmitAsync(actions, cancellationToken);
        return rows.Select((r, i) => r with { ETag = responses[i].Headers.ETag?.ToString() }).ToList();
    }

    /// <summary>Removes rows of mailboxes that no longer exist, each as it was read.</summary>
    public async Task ForgetAsync(string shard, IReadOnlyList<MailboxSchedule> rows, CancellationToken cancellationToken = default)
    {
        foreach (var chunk in rows.Chunk(BatchSize))
        {
            await _table.SubmitAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(shard, r.ChannelId), new ETag(r.ETag!))), cancellationToken);
        }
    }

    private static TableEntity ToEntity(string shard, MailboxSchedule row) => new(shard, row.ChannelId)
    {
        ["CompanyId"] = row.CompanyId,
        ["QueuedUntil"] = row.QueuedUntil,
        ["ClaimOwner"] = row.ClaimOwner,
        ["ClaimUntil"] = row.ClaimUntil,
    };
}
