using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Caching.Memory;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// Stores an inbound message for <see cref="TableConversationStore"/>: one point read to route it (a conversation
/// key, else the contact's open conversation) and one entity-group transaction that writes the message, its audit
/// row, its idempotency row and the conversation's rows together. A crash leaves either all of them or none, and the
/// idempotency row's insert is what makes a concurrent duplicate fail instead of becoming a second message.
/// <para>
/// The route is remembered in process (<see cref="RouteHints"/>), so a contact's next message on this instance skips
/// the read. A remembered route is only a hint, checked by the transaction itself: it updates the conversation's open
/// marker (<see cref="ConversationRows.OpenMarker"/>, deleted by a close in its own transactions) on the condition that
/// it exists, so a conversation closed meanwhile, on any instance, fails the transaction and the message is routed
/// again from storage. No other instance has to tell this one anything: a conversation id is never reused, and a
/// route changes only by a close.
/// </para>
/// </summary>
internal sealed class InboundAppends(TableClient table, ConversationReads reads, TimeProvider clock)
{
    /// <summary>The row of a conversation an inbound message opens, shared by single appends and mail batches.</summary>
    internal static TableEntity NewConversationRow(string conversationId, string companyId, string channelId, InboundMessage message, string? firstKey, DateTimeOffset now)
    {
        var conversation = new Conversation(conversationId, companyId, channelId, message.Contact, firstKey, message.Subject, ConversationStatus.Open, now, now, null)
        {
            LastInboundAt = now,
            Handler = message.OpensWithBotId is null ? ConversationHandler.Agents : ConversationHandler.Bot,
            BotId = message.OpensWithBotId,
        };
        var row = ToEntity(conversation, now);
        MailThreads.Write(row, message.Mail, message.Subject);
        return row;
    }

    // Conversation keys looked up per message; an e-mail's References can list many more, the nearest ones come first.
    private const int MaxKeys = 20;

    /// <summary>The keys a message is routed by (nearest first), and the hashed keys it leaves for later messages.</summary>
    internal static (List<string> Lookup, List<string> New) KeysOf(InboundMessage message)
    {
        var lookup = (message.ConversationKeys ?? []).Where(k => !string.IsNullOrWhiteSpace(k)).Distinct(StringComparer.Ordinal).Take(MaxKeys).ToList();
        var created = lookup.Append(message.Mail?.MessageId).Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => Hash(k!)).Distinct(StringComparer.Ordinal).ToList();
        return (lookup, created);
    }

    /// <summary>The stored message, and the rows every inbound append adds for it: idempotency, the message, its audit row.</summary>
    internal static (Message Stored, TableEntity[] Rows) MessageRows(InboundMessage message, string messageId, string conversationId, DateTimeOffset now)
    {
        var stored = new Message(messageId, message.CompanyId, message.ChannelId, conversationId, MessageDirection.Inbound, message.ExternalId,
            ConversationLimits.TruncateBody(message.Text), ConversationLimits.TruncateBody(message.Html), message.Subject, message.Attachments ?? [],
            message.Metadata, message.Mail, MessageStatus.Accepted, null, now);
        return (stored,
        [
            new TableEntity(message.CompanyId, Idempotency(message.ChannelId, message.ExternalId))
            {
                ["MessageId"] = stored.Id,
                ["ConversationId"] = conversationId,
                ["BodyHash"] = message.BodyHash,
            },
            ToEntity(stored, ConversationRows.Message(conversationId, stored.Id)),
            ToEntity(stored, AuditRow(message.ChannelId, stored.Id)),
        ]);
    }

    private readonly RouteHints _hints = new();

    public Task<AppendResult> AppendAsync(InboundMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(message.ExternalId);
        ArgumentException.ThrowIfNullOrEmpty(message.Contact.ExternalId);
        var (lookupKeys, newKeys) = KeysOf(message);
        return StorageRetry.OnConflictAsync(clock, $"storing a message on channel {message.ChannelId}",
            _ => AttemptAsync(message, lookupKeys, newKeys, cancellationToken), cancellationToken);
    }

    private async Task<AppendResult> AttemptAsync(InboundMessage message, List<string> lookupKeys, List<string> newKeys, CancellationToken cancellationToken)
    {
        var company = message.CompanyId;
        var now = clock.GetUtcNow();
        var route = await RouteAsync(message, lookupKeys, cancellationToken);
        var hinted = route.Row is null ? route.ConversationId : null;
        var conversationId = route.ConversationId ?? NewConversationId(now);
        var (stored, rows) = MessageRows(message, Ids.New("msg"), conversationId, now);
        var actions = rows.Select(row => new TableTransactionAction(TableTransactionActionType.Add, row)).ToList();

        if (message.Reserved)
        {
            // Gone means another request committed this key: the batch fails and the duplicate is reported.
            actions.Add(new(TableTransactionActionType.Delete, new TableEntity(company, Pending(message.ChannelId, message.ExternalId)), ETag.All));
        }

        var guardedKey = (string?)null;
        if (hinted is not null)
        {
            // Exists only while the conversation is open: a close on any instance makes this transaction fail.
            actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(company, OpenMarker(conversationId)) { ["LastMessageAt"] = now }, ETag.All));
            var row = new TableEntity(company, Conversation(conversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now, ["LastInboundAt"] = now };
            MailThreads.Write(row, message.Mail, message.Subject);
            actions.Add(new(TableTransactionActionType.UpdateMerge, row, ETag.All));
        }
        else if (route.Row is null)
        {
            actions.Add(new(TableTransactionActionType.Add, NewConversationRow(conversationId, company, message.ChannelId, message, lookupKeys.FirstOrDefault(), now)));
            // Add, not upsert: two first messages of one contact racing must not open two conversations.
            actions.Add(new(TableTransactionActionType.Add, RoutingRow(company, Open(message.ChannelId, message.Contact.ExternalId), conversationId, now)));
            actions.Add(new(TableTransactionActionType.Add, OpenMarkerRow(company, conversationId, now)));
        }
        else
        {
            // Rewriting the routing row with its ETag guards against a close that deleted it meanwhile.
            actions.Add(new(TableTransactionActionType.UpdateMerge, RoutingRow(company, route.Row.RowKey, conversationId, now), route.Row.ETag));
            var row = new TableEntity(company, Conversation(conversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now, ["LastInboundAt"] = now };
            MailThreads.Write(row, message.Mail, message.Subject);
            actions.Add(new(TableTransactionActionType.UpdateMerge, row, ETag.All));
            // Conversations opened before the marker existed (or by an agent's first message) get it here; the routing
            // row's ETag above still guards this transaction against a close.
            actions.Add(new(TableTransactionActionType.UpsertMerge, OpenMarkerRow(company, conversationId, now)));
            guardedKey = route.Row.RowKey;
        }

        AddKeys(actions, company, message.ChannelId, conversationId, newKeys, now, except: guardedKey);

        try
        {
            await table.SubmitAsync(actions, cancellationToken);
            _hints.Remember(message, lookupKeys, conversationId, contactsOwn: route.ByContact || (hinted is null && route.Row is null));
            return new AppendResult(AppendOutcome.Created, stored) { OpenedConversation = hinted is null && route.Row is null };
        }
        catch (StorageConflictException)
        {
            // Either this key was stored meanwhile (a duplicate), or a routing row changed under us (try again).
            if (await reads.FindExistingAsync(company, message.ChannelId, message.ExternalId, message.BodyHash, cancellationToken) is { } existing)
            {
                return existing;
            }

            // The hint may be what failed (its conversation was closed): the retry routes from storage.
            _hints.Forget(message, lookupKeys);
            throw;
        }
    }

    /// <summary>
    /// Where a message goes: the first key that names an open conversation, else the contact's open conversation, else
    /// nowhere yet. A route this instance remembers is used without a read (a hint: <see cref="Route.Row"/> is null
    /// with a conversation id), an unknown key is still looked up in storage.
    /// </summary>
    private async Task<Route> RouteAsync(InboundMessage message, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var (companyId, channelId, contactExternalId) = (message.CompanyId, message.ChannelId, message.Contact.ExternalId);
        if (_hints.FindKey(message, keys) is { } byKey)
        {
            return new Route(null, byKey, ByContact: false);
        }

        if (keys.Count > 0)
        {
            var found = await Task.WhenAll(keys.Select(k => table.FindAsync(companyId, Key(channelId, Hash(k)), cancellationToken)));
            if (found.FirstOrDefault(r => r is not null) is { } hit)
            {
                return new Route(hit, hit.GetString("ConversationId"), ByContact: false);
            }
        }

        if (_hints.FindContact(message, keys) is { } byContact)
        {
            return new Route(null, byContact, ByContact: true);
        }

        return await table.FindAsync(companyId, Open(channelId, contactExternalId), cancellationToken) is { } row
            ? new Route(row, row.GetString("ConversationId"), ByContact: true)
            : new Route(null, null, ByContact: false);
    }

    /// <summary>The routing row that led to an open conversation (null: open a new one, or a remembered route), and whether it is the contact's own.</summary>
    private sealed record Route(TableEntity? Row, string? ConversationId, bool ByContact);

    /// <summary>
    /// Which open conversation a contact's messages (and a single conversation key's) went to last on this instance,
    /// bounded in size. Only messages that carry at most one key and no mail headers use or feed it: a message with
    /// several keys (an e-mail's References) can move a key to another open conversation, and this instance would not
    /// see that; a contact's route, or the one key of a receive_hook message, moves only when its conversation closes.
    /// </summary>
    private sealed class RouteHints
    {
        private readonly MemoryCache _routes = new(new MemoryCacheOptions { SizeLimit = 50_000 });

        public string? FindKey(InboundMessage message, IReadOnlyList<string> keys) =>
            Usable(message, keys) && keys.Count == 1 ? _routes.Get<string>(KeyOf(message, Key(message.ChannelId, Hash(keys[0])))) : null;

        public string? FindContact(InboundMessage message, IReadOnlyList<string> keys) =>
            Usable(message, keys) ? _routes.Get<string>(KeyOf(message, Open(message.ChannelId, message.Contact.ExternalId))) : null;

        /// <param name="contactsOwn">The conversation is the contact's open one (not another's, joined by its key).</param>
        public void Remember(InboundMessage message, IReadOnlyList<string> keys, string conversationId, bool contactsOwn)
        {
            if (!Usable(message, keys))
            {
                return;
            }

            var options = new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(30) };
            if (keys.Count == 1)
            {
                _routes.Set(KeyOf(message, Key(message.ChannelId, Hash(keys[0]))), conversationId, options);
            }

            if (contactsOwn)
            {
                _routes.Set(KeyOf(message, Open(message.ChannelId, message.Contact.ExternalId)), conversationId, options);
            }
        }

        public void Forget(InboundMessage message, IReadOnlyList<string> keys)
        {
            _routes.Remove(KeyOf(message, Open(message.ChannelId, message.Contact.ExternalId)));
            foreach (var k in keys)
            {
                _routes.Remove(KeyOf(message, Key(message.ChannelId, Hash(k))));
            }
        }

        private static bool Usable(InboundMessage message, IReadOnlyList<string> keys) => message.Mail is null && keys.Count <= 1;

        private static string KeyOf(InboundMessage message, string rowKey) => $"{message.CompanyId}\n{rowKey}";
    }
}
