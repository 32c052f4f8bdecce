using System.Globalization;
using System.Runtime.CompilerServices;
using Azure.Data.Tables;

namespace Omni.Storage;

/// <summary>One row of a <see cref="DueIndex"/>: when it is due, the key that makes it unique, and what its writer stored with it.</summary>
internal sealed record DueEntry(DateTimeOffset DueAt, string Key, TableEntity Row);

/// <summary>
/// A due-time index: rows in one partition of a table, keyed by fixed-width ticks so they sort in time order, so a
/// sweep over "what is overdue" reads only the overdue rows (an idle sweep is one empty range query) instead of
/// visiting every tenant. The features that hand work on (the conversations' outbox, webhook deliveries) write a row
/// before the work it guards and drop it once the work moved on; a sweep tells stale rows from live ones by what it
/// finds in the feature's own rows.
/// </summary>
internal sealed class DueIndex(TableClient table, string partition)
{
    /// <summary>Writes (or rewrites) the row; <paramref name="row"/> holds what the sweep needs, its keys are set here.</summary>
    public Task AddAsync(DateTimeOffset dueAt, string key, TableEntity row, CancellationToken cancellationToken = default)
    {
        row.PartitionKey = partition;
        row.RowKey = RowKey(dueAt, key);
        return table.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken);
    }

    public Task DropAsync(DateTimeOffset dueAt, string key, CancellationToken cancellationToken = default) =>
        table.DeleteIfExistsAsync(partition, RowKey(dueAt, key), cancellationToken);

    /// <summary>Rows due at or before <paramref name="now"/>, oldest first: one range query on one partition.</summary>
    public async IAsyncEnumerable<DueEntry> DueAsync(DateTimeOffset now, int max, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey lt {Ticks(now.UtcTicks + 1)}");
        var count = 0;
        await foreach (var e in table.QueryEntitiesAsync(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            if (count++ >= max)
            {
                yield break;
            }

            var separator = e.RowKey.IndexOf('|', StringComparison.Ordinal);
            // Read from the key, not a property, so dropping the row rebuilds its key to the tick.
            var dueAt = new DateTimeOffset(long.Parse(e.RowKey[..separator], CultureInfo.InvariantCulture), TimeSpan.Zero);
            yield return new DueEntry(dueAt, e.RowKey[(separator + 1)..], e);
        }
    }

    // Fixed-width ticks sort as text in time order; the key makes the row unique.
    private static string RowKey(DateTimeOffset dueAt, string key) => $"{Ticks(dueAt.UtcTicks)}|{key}";

    private static string Ticks(long ticks) => ticks.ToString("D19", CultureInfo.InvariantCulture);
}
