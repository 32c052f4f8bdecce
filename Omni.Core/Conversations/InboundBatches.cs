using Azure;
using Azure.Data.Tables;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// The routing rows (a contact's open conversation, a conversation key) one poll of a mailbox has read or written,
/// with their versions, so its next messages route without reading them again. Opaque to its holder, who makes one
/// per poll and drops it after: a row changed by someone else meanwhile (a close) makes the batch that relies on it
/// fail on its ETag, and the messages then go one by one, reading afresh.
/// </summary>
public sealed class InboundRouteCache
{
    internal Dictionary<(string CompanyId, string RowKey), RouteEntry?> Rows { get; } = [];

    /// <summary>
    /// The time of the last message planned: ids are UUIDv7, ordered only to the millisecond, and a conversation lists
    /// its messages by id, so each message of a poll gets a millisecond of its own to keep the mailbox's order.
    /// </summary>
    internal DateTimeOffset LastStamp { get; set; }

    internal void Clear() => Rows.Clear();

    /// <summary>A routing row as known: committed (with its ETag) or only in the transaction being built.</summary>
    internal sealed record RouteEntry(string ConversationId, ETag? ETag, bool Pending);
}

/// <summary>
/// Appends several new inbound messages of one company for <see cref="TableConversationStore"/> in as few
/// entity-group transactions as the layout allows (everything of a company is one partition): each message's rows as
/// <see cref="InboundAppends"/> writes them, a conversation's and a routing row's updates folded into one action when
/// several messages share them. Messages are routed in order through an <see cref="InboundRouteCache"/>, so a message
/// answering an earlier one of the batch finds its conversation without a read, and a contact's second mail reuses
/// the first one's routing row. A transaction commits all its messages or none; the first one that cannot commit
/// (a duplicate's idempotency row, a routing row changed meanwhile, a row Table Storage refuses) ends the batch, and
/// the caller appends the rest one by one.
/// </summary>
internal sealed class InboundBatches(TableClient table, TimeProvider clock)
{
    private const int MaxActions = 100;
    // Of the 4 MiB a transaction's body may be; the estimate below is rough (binary goes out as base64, 4/3).
    private const long MaxBytes = 3L * 1024 * 1024;

    public async Task<IReadOnlyList<AppendResult>> AppendAsync(IReadOnlyList<InboundMessage> messages, InboundRouteCache routes, CancellationToken cancellationToken = default)
    {
        var results = new List<AppendResult>();
        var chunk = new Chunk();
        foreach (var message in messages)
        {
            if (message.Reserved || string.IsNullOrEmpty(message.ExternalId) || string.IsNullOrEmpty(message.Contact.ExternalId)
                || (results.Count + chunk.Results.Count > 0 && message.CompanyId != messages[0].CompanyId))
            {
                break;
            }

            var plan = await PlanAsync(message, routes, cancellationToken);
            if (!chunk.Fits(plan))
            {
                if (!await FlushAsync(chunk, routes, results, cancellationToken))
                {
                    return results;
                }

                chunk = new Chunk();
                // Routed again: the rows this one relied on are committed now, with versions of their own.
                plan = await PlanAsync(message, routes, cancellationToken);
                if (!chunk.Fits(plan))
                {
                    // Too large for a transaction even alone: the single append says what Table Storage makes of it.
                    return results;
                }
            }

            chunk.Add(plan);
            foreach (var (rowKey, conversationId) in plan.Routes)
            {
                routes.Rows[(message.CompanyId, rowKey)] = new InboundRouteCache.RouteEntry(conversationId, null, Pending: true);
            }
        }

        await FlushAsync(chunk, routes, results, cancellationToken);
        return results;
    }

    /// <returns>False when the transaction did not commit (nothing of it is stored); the cache is then cleared.</returns>
    private async Task<bool> FlushAsync(Chunk chunk, InboundRouteCache routes, List<AppendResult> results, CancellationToken cancellationToken)
    {
        if (chunk.Writes.Count == 0)
        {
            return true;
        }

        var writes = chunk.Writes.Values.ToList();
        IReadOnlyList<Response> responses;
        try
        {
            responses = await table.SubmitAsync(writes.Select(w => w.Etag is { } etag ? new TableTransactionAction(w.Type, w.Entity, etag) : new TableTransactionAction(w.Type, w.Entity)), cancellationToken);
        }
        catch (Exception ex) when (ex is StorageConflictException or RequestFailedException { Status: 400 or 413 })
        {
            routes.Clear();
            return false;
        }

        for (var i = 0; i < writes.Count; i++)
        {
            var key = (writes[i].Entity.PartitionKey, writes[i].Entity.RowKey);
            if (routes.Rows.TryGetValue(key, out var entry) && entry is not null)
            {
                // The version this commit gave the row; without one, it is read again when next needed.
                var etag = i < responses.Count ? responses[i].Headers.ETag : null;
                if (etag is { } e)
                {
                    routes.Rows[key] = entry with { ETag = e, Pending = false };
                }
                else
                {
                    routes.Rows.Remove(key);
                }
            }
        }

        results.AddRange(chunk.Results);
        return true;
    }

    private async Task<Plan> PlanAsync(InboundMessage message, InboundRouteCache routes, CancellationToken cancellationToken)
    {
        var company = message.CompanyId;
        var channel = message.ChannelId;
        var now = clock.GetUtcNow();
        if (now <= routes.LastStamp)
        {
            now = routes.LastStamp.AddMilliseconds(1);
        }

        routes.LastStamp = now;
        var (lookupKeys, newKeys) = InboundAppends.KeysOf(message);

        var (routeKey, route) = await RouteAsync(company, channel, message.Contact.ExternalId, lookupKeys, routes, cancellationToken);
        var conversationId = route?.ConversationId ?? NewConversationId(now);
        // The message's own stamp, not Ids.New's clock: ids order a conversation's messages (see InboundRouteCache.LastStamp).
        var (stored, rows) = InboundAppends.MessageRows(message, $"msg_{Guid.CreateVersion7(now):N}", conversationId, now);
        var plan = new Plan(new AppendResult(AppendOutcome.Created, stored) { OpenedConversation = route is null });
        plan.Writes.AddRange(rows.Select(row => new Write(TableTransactionActionType.Add, row, null, null)));

        string? guarded = null;
        if (route is null)
        {
            plan.Writes.Add(new Write(TableTransactionActionType.Add,
                InboundAppends.NewConversationRow(conversationId, company, channel, message, lookupKeys.FirstOrDefault(), now), null, conversationId));
            // Add, not upsert: two first messages of one contact racing must not open two conversations.
            var open = Open(channel, message.Contact.ExternalId);
            plan.Writes.Add(new Write(TableTransactionActionType.Add, RoutingRow(company, open, conversationId, now), null, conversationId));
            plan.Routes.Add((open, conversationId));
        }
        else
        {
            // Committed: rewritten with its ETag, which guards against a close that deleted it meanwhile. Pending
            // (written by this transaction): folded into that write.
            plan.Writes.Add(new Write(TableTransactionActionType.UpdateMerge, RoutingRow(company, routeKey!, conversationId, now), route.Pending ? null : route.ETag, conversationId));
            var row = new TableEntity(company, Conversation(conversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now, ["LastInboundAt"] = now };
            MailThreads.Write(row, message.Mail, message.Subject);
            plan.Writes.Add(new Write(TableTransactionActionType.UpdateMerge, row, ETag.All, conversationId));
            guarded = routeKey;
            plan.Routes.Add((routeKey!, conversationId));
        }

        var keyActions = new List<TableTransactionAction>();
        AddKeys(keyActions, company, channel, conversationId, newKeys, now, except: guarded);
        foreach (var action in keyActions)
        {
            plan.Writes.Add(new Write(action.ActionType, (TableEntity)action.Entity, null, conversationId));
            if (action.Entity.RowKey.StartsWith("x|", StringComparison.Ordinal))
            {
                plan.Routes.Add((action.Entity.RowKey, conversationId));
            }
        }

        return plan;
    }

    /// <summary>
    /// As <see cref="InboundAppends"/> routes, the nearest key first, but through the cache, and reading further keys
    /// only when the nearest one names no open conversation: a reply to a known message costs one read, or none.
    /// </summary>
    private async Task<(string? RowKey, InboundRouteCache.RouteEntry? Entry)> RouteAsync(string companyId, string channelId, string contactExternalId,
        List<string> keys, InboundRouteCache routes, CancellationToken cancellationToken)
    {
        var rowKeys = keys.Select(k => Key(channelId, Hash(k))).ToList();
        for (var i = 0; i < rowKeys.Count; i++)
        {
            if (routes.Rows.TryGetValue((companyId, rowKeys[i]), out var known))
            {
                if (known is not null)
                {
                    return (rowKeys[i], known);
                }

                continue;
            }

            if (await ReadAsync(companyId, rowKeys[i], routes, cancellationToken) is { } hit)
            {
                return (rowKeys[i], hit);
            }

            // The nearest unknown key missed: the rest are read side by side, and the first hit in order wins.
            var rest = rowKeys.Skip(i + 1).Where(k => !routes.Rows.ContainsKey((companyId, k))).ToList();
            foreach (var (k, entry) in await Task.WhenAll(rest.Select(async k => (k, await FindAsync(companyId, k, cancellationToken)))))
            {
                routes.Rows[(companyId, k)] = entry;
            }

            if (rowKeys.Skip(i + 1).FirstOrDefault(k => routes.Rows.GetValueOrDefault((companyId, k)) is not null) is { } further)
            {
                return (further, routes.Rows[(companyId, further)]);
            }

            break;
        }

        var open = Open(channelId, contactExternalId);
        if (!routes.Rows.TryGetValue((companyId, open), out var contact))
        {
            contact = await ReadAsync(companyId, open, routes, cancellationToken);
        }

        return contact is null ? (null, null) : (open, contact);
    }

    private async Task<InboundRouteCache.RouteEntry?> ReadAsync(string companyId, string rowKey, InboundRouteCache routes, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(companyId, rowKey, cancellationToken);
        routes.Rows[(companyId, rowKey)] = entry;
        return entry;
    }

    private async Task<InboundRouteCache.RouteEntry?> FindAsync(string companyId, string rowKey, CancellationToken cancellationToken) =>
        await table.FindAsync(companyId, rowKey, cancellationToken) is { } row && row.GetString("ConversationId") is { } id
            ? new InboundRouteCache.RouteEntry(id, row.ETag, Pending: false)
            : null;

    /// <param name="ConversationId">The conversation the row belongs to, for rows two messages may share; null: the message's own.</param>
    private sealed record Write(TableTransactionActionType Type, TableEntity Entity, ETag? Etag, string? ConversationId)
    {
        public long Bytes => 200 + Entity.RowKey.Length + Entity.Sum(p => p.Key.Length + p.Value switch
        {
            string s => 2L * s.Length,
            byte[] b => b.Length * 4L / 3,
            _ => 32L,
        });
    }

    private sealed record Plan(AppendResult Result)
    {
        public List<Write> Writes { get; } = [];

        /// <summary>Routing rows this message leaves behind (row key, conversation), for the messages after it.</summary>
        public List<(string RowKey, string ConversationId)> Routes { get; } = [];
    }

    private sealed class Chunk
    {
        private long _bytes;

        public Dictionary<string, Write> Writes { get; } = new(StringComparer.Ordinal);

        public List<AppendResult> Results { get; } = [];

        /// <summary>Whether the plan's writes go into this transaction: a row may appear once, so a shared one must be the same conversation's.</summary>
        public bool Fits(Plan plan)
        {
            var added = 0;
            foreach (var w in plan.Writes)
            {
                if (Writes.TryGetValue(w.Entity.RowKey, out var existing))
                {
                    if (existing.ConversationId is null || existing.ConversationId != w.ConversationId)
                    {
                        return false;
                    }
                }
                else
                {
                    added++;
                }
            }

            return Writes.Count + added <= MaxActions && _bytes + plan.Writes.Sum(w => w.Bytes) <= MaxBytes;
        }

        public void Add(Plan plan)
        {
            foreach (var w in plan.Writes)
            {
                _bytes += w.Bytes;
                if (Writes.TryGetValue(w.Entity.RowKey, out var existing))
                {
                    // One action per row: the first one's kind and version (an Add stays an Add, a guarded merge keeps
                    // its ETag), the newest message's values.
                    foreach (var (name, value) in w.Entity.Where(p => p.Key is not ("PartitionKey" or "RowKey" or "odata.etag" or "Timestamp")))
                    {
                        existing.Entity[name] = value;
                    }
                }
                else
                {
                    Writes[w.Entity.RowKey] = w;
                }
            }

            Results.Add(plan.Result);
        }
    }
}
