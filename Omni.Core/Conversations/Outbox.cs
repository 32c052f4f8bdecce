using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Conversations;

/// <summary>What a stored write still has to hand on: an agent's message to the outbound queue, or a close to its webhook.</summary>
internal enum OutboxKind
{
    Send,
    Close,
}

/// <summary>One pending hand-off; <see cref="Id"/> is the message id (a send) or the conversation id (a close).</summary>
internal sealed record OutboxItem(string CompanyId, OutboxKind Kind, string Id, string ConversationId, string? MessageId, DateTimeOffset DueAt);

/// <summary>
/// The outbox of agent messages and closes. The item's row (<c>q|{id}</c>) is written in the company's partition of
/// the Conversations table, in the same transaction as the message or the close, so the write and the promise to hand
/// it on commit together. Because a sweep must not visit every company, each item also has an index row in the
/// <c>Outbox</c> table, one partition keyed by due time and written before the transaction: a sweep reads only the
/// overdue index rows (an idle sweep is one empty range query) and an index row whose item never committed, or was
/// handed on already, is dropped. After a hand-off the item row goes first, then the index row.
/// </summary>
internal sealed class ConversationOutbox(TableServiceClient tables, IOptions<ConversationOptions> options)
{
    public const string Table = "Outbox";

    private const string DuePartition = "due";

    private readonly DueIndex _index = new(tables.GetTableClient(options.Value.OutboxTableName), DuePartition);
    private readonly TableClient _conversations = tables.GetTableClient(ConversationRows.Table);

    /// <summary>A message's hand-off is due a grace period after it was stored, so the sweep leaves the request's own hand-off be.</summary>
    public OutboxItem ForMessage(Message message) =>
        new(message.CompanyId, OutboxKind.Send, message.Id, message.ConversationId, message.Id, message.CreatedAt + options.Value.OutboxGrace);

    public OutboxItem ForClose(string companyId, string conversationId, DateTimeOffset closedAt) =>
        new(companyId, OutboxKind.Close, conversationId, conversationId, null, closedAt + options.Value.OutboxGrace);

    /// <summary>The index row, written before the transaction that adds <see cref="Row"/>.</summary>
    public async Task IndexAsync(OutboxItem item, CancellationToken cancellationToken = default) =>
        await _index.AddAsync(item.DueAt, IndexKey(item), ToEntity(item, DuePartition, ""), cancellationToken);

    /// <summary>The item's row, for the transaction of the write it belongs to.</summary>
    public static TableTransactionAction Row(OutboxItem item) =>
        new(TableTransactionActionType.UpsertReplace, ToEntity(item, item.CompanyId, ItemKey(item.Id)));

    /// <summary>Done with the item: its row, then its index row (a crash between leaves an index row the sweep drops).</summary>
    public async Task CompleteAsync(OutboxItem item, CancellationToken cancellationToken = default)
    {
        await _conversations.DeleteIfExistsAsync(item.CompanyId, ItemKey(item.Id), cancellationToken);
        await DropIndexAsync(item, cancellationToken);
    }

    public Task DropIndexAsync(OutboxItem item, CancellationToken cancellationToken = default) =>
        _index.DropAsync(item.DueAt, IndexKey(item), cancellationToken);

    /// <summary>Whether the item committed and is not handed on yet.</summary>
    public async Task<bool> IsPendingAsync(OutboxItem item, CancellationToken cancellationToken = default) =>
        await _conversations.FindAsync(item.CompanyId, ItemKey(item.Id), cancellationToken) is not null;

    /// <summary>Index rows due at or before <paramref name="now"/>, oldest first: one range query on one partition.</summary>
    public async IAsyncEnumerable<OutboxItem> DueAsync(DateTimeOffset now, int max, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (dueAt, _, e) in _index.DueAsync(now, max, cancellationToken))
        {
            yield return new OutboxItem(e.GetString("CompanyId"), Enum.Parse<OutboxKind>(e.GetString("Kind")), e.GetString("ItemId"),
                e.GetString("ConversationId"), e.GetString("MessageId"), dueAt);
        }
    }

    private static string ItemKey(string id) => $"q|{id}";

    // Company and id make the index key unique (after the due time's ticks).
    private static string IndexKey(OutboxItem item) => $"{item.CompanyId}|{item.Id}";

    private static TableEntity ToEntity(OutboxItem item, string partitionKey, string rowKey) => new(partitionKey, rowKey)
    {
        ["CompanyId"] = item.CompanyId,
        ["Kind"] = item.Kind.ToString(),
        ["ItemId"] = item.Id,
        ["ConversationId"] = item.ConversationId,
        ["MessageId"] = item.MessageId,
        ["DueAt"] = item.DueAt,
    };
}
