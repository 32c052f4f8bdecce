using Azure;
using Azure.Data.Tables;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Email;

/// <summary>The UIDLs a POP3 poller has taken, as rows of <see cref="Pop3UidlStore"/>: row key to newline-joined UIDLs.</summary>
internal sealed record Pop3Taken(IReadOnlyDictionary<string, string> Rows)
{
    public HashSet<string> All() => Rows.Values.SelectMany(r => r.Split('\n', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// What a POP3 mailbox's poller has taken, in rows of the <c>MailboxState</c> table beside the mailbox's state row
/// (row key <c>{channel}_pop3_{identity}_{n}</c>), a few hundred UIDLs a row: a mailbox of any size never makes one
/// growing blob, and a save rewrites only the rows that changed (new mail lands in the last one).
/// </summary>
internal sealed class Pop3UidlStore(TableServiceClient tables)
{
    // 400 UIDLs of at most 70 characters stay under Table Storage's 64 KiB a property.
    private const int PerRow = 400;

    private readonly TableClient _table = tables.GetTableClient(MailboxStateStore.Table);

    public async Task<Pop3Taken> GetAsync(Channel channel, string identity, CancellationToken cancellationToken = default)
    {
        var prefix = Prefix(channel, identity);
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {channel.CompanyId} and RowKey ge {prefix} and RowKey lt {prefix + "~"}");
        await foreach (var e in _table.QueryEntitiesAsync(filter, select: ["RowKey", "Uidls"], cancellationToken: cancellationToken))
        {
            rows[e.RowKey] = e.GetString("Uidls") ?? "";
        }

        return new Pop3Taken(rows);
    }

    /// <summary>
    /// The rows a save of a complete listing leaves (every UIDL on it taken), without reading them: what
    /// <see cref="Changes"/> wrote for the listing a POP3 cursor names (the cursor is written with its rows, see
    /// <see cref="MailboxStateStore.SaveAsync(MailboxState, string?, TimeSpan?, IReadOnlyList{TableTransactionAction}, CancellationToken)"/>).
    /// </summary>
    public static Pop3Taken Of(Channel channel, string identity, IEnumerable<string> listing) => new(RowsOf(Prefix(channel, identity), listing));

    /// <summary>
    /// Keeps the taken UIDLs still on the server (mail deleted elsewhere drops out), in server order: the rows after,
    /// and the writes that make them of the rows before (only changed rows), to go with the state row's save.
    /// </summary>
    public static (Pop3Taken After, IReadOnlyList<TableTransactionAction> Writes) Changes(Channel channel, string identity, Pop3Taken before, IList<string> onServer, IReadOnlySet<string> taken)
    {
        var rows = RowsOf(Prefix(channel, identity), onServer.Where(taken.Contains));
        var actions = rows.Where(r => before.Rows.GetValueOrDefault(r.Key) != r.Value)
            .Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(channel.CompanyId, r.Key) { ["Uidls"] = r.Value }))
            .Concat(before.Rows.Keys.Where(k => !rows.ContainsKey(k)).Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(channel.CompanyId, k), ETag.All)))
            .ToList();
        return (new Pop3Taken(rows), actions);
    }

    private static Dictionary<string, string> RowsOf(string prefix, IEnumerable<string> uidls) => uidls.Distinct(StringComparer.Ordinal).Chunk(PerRow)
        .Select((chunk, i) => (Key: prefix + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture), Value: string.Join('\n', chunk)))
        .ToDictionary(r => r.Key, r => r.Value, StringComparer.Ordinal);

    private static string Prefix(Channel channel, string identity) => $"{channel.Id}_pop3_{identity}_";
}
