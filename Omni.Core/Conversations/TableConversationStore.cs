using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// Conversations and messages in one table, partitioned by company (layout in <see cref="ConversationRows"/>).
/// An accepted inbound message costs one point read to route it (a conversation key, else the contact's open
/// conversation) and one entity-group transaction that writes the message, its audit row, its idempotency row and
/// the conversation's rows together: a crash leaves either all of them or none, and the idempotency row's insert
/// is what makes a concurrent duplicate fail instead of becoming a second message.
/// </summary>
internal sealed class TableConversationStore(TableServiceClient tables, TimeProvider clock, IOptions<ConversationOptions> options) : IConversationStore
{
    // Conversation keys looked up per message; an e-mail's References can list many more, the nearest ones come first.
    private const int MaxKeys = 20;
    private const int MaxAttempts = 8;

    private readonly TableClient _table = tables.GetTableClient(Table);

    public async Task<AppendResult> AppendInboundAsync(InboundMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(message.ExternalId);
        ArgumentException.ThrowIfNullOrEmpty(message.Contact.ExternalId);
        var company = message.CompanyId;
        var lookupKeys = (message.ConversationKeys ?? []).Where(k => !string.IsNullOrWhiteSpace(k)).Distinct(StringComparer.Ordinal).Take(MaxKeys).ToList();
        var newKeys = lookupKeys.Append(message.Mail?.MessageId).Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => Hash(k!)).Distinct(StringComparer.Ordinal).ToList();

        for (var attempt = 1; ; attempt++)
        {
            var now = clock.GetUtcNow();
            var route = await RouteAsync(company, message.ChannelId, message.Contact.ExternalId, lookupKeys, cancellationToken);
            var conversationId = route.ConversationId ?? NewConversationId(now);
            var stored = new Message(Ids.New("msg"), company, message.ChannelId, conversationId, MessageDirection.Inbound, message.ExternalId,
                Truncate(message.Text), Truncate(message.Html), message.Subject, message.Attachments ?? [], message.Metadata, message.Mail, MessageStatus.Accepted, null, now);

            var actions = new List<TableTransactionAction>
            {
                new(TableTransactionActionType.Add, new TableEntity(company, Idempotency(message.ChannelId, message.ExternalId))
                {
                    ["MessageId"] = stored.Id,
                    ["ConversationId"] = conversationId,
                    ["BodyHash"] = message.BodyHash,
                }),
                new(TableTransactionActionType.Add, ToEntity(stored, ConversationRows.Message(conversationId, stored.Id))),
                new(TableTransactionActionType.Add, ToEntity(stored, AuditRow(message.ChannelId, stored.Id))),
            };

            if (message.Reserved)
            {
                // Gone means another request committed this key: the batch fails and the duplicate is reported.
                actions.Add(new(TableTransactionActionType.Delete, new TableEntity(company, Pending(message.ChannelId, message.ExternalId)), ETag.All));
            }

            var guardedKey = (string?)null;
            if (route.Row is null)
            {
                var conversation = new Conversation(conversationId, company, message.ChannelId, message.Contact, lookupKeys.FirstOrDefault(),
                    message.Subject, ConversationStatus.Open, now, now, null);
                actions.Add(new(TableTransactionActionType.Add, ToEntity(conversation, now)));
                // Add, not upsert: two first messages of one contact racing must not open two conversations.
                actions.Add(new(TableTransactionActionType.Add, RoutingRow(company, Open(message.ChannelId, message.Contact.ExternalId), conversationId, now)));
            }
            else
            {
                // Rewriting the routing row with its ETag guards against a close that deleted it meanwhile.
                actions.Add(new(TableTransactionActionType.UpdateMerge, RoutingRow(company, route.Row!.RowKey, conversationId, now), route.Row.ETag));
                actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(company, Conversation(conversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now }, ETag.All));
                guardedKey = route.Row.RowKey;
            }

            AddKeys(actions, company, message.ChannelId, conversationId, newKeys, now, except: guardedKey);

            try
            {
                await _table.SubmitTransactionAsync(actions, cancellationToken);
                return new AppendResult(AppendOutcome.Created, stored);
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 404 or 409 or 412)
            {
                // Either this key was stored meanwhile (a duplicate), or a routing row changed under us (retry).
                if (await FindExistingAsync(company, message.ChannelId, message.ExternalId, message.BodyHash, cancellationToken) is { } existing)
                {
                    return existing;
                }

                if (attempt >= MaxAttempts)
                {
                    throw new InvalidOperationException($"The conversation of contact on channel {message.ChannelId} changed on every one of {MaxAttempts} attempts to store a message.", ex);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attempt)), clock, cancellationToken);
            }
        }
    }

    public async Task<Reservation> ReserveAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken = default)
    {
        var pendingKey = Pending(channelId, externalId);
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            var now = clock.GetUtcNow();
            var marker = new TableEntity(companyId, pendingKey) { ["At"] = now, ["BodyHash"] = bodyHash };
            var existingTask = FindExistingAsync(companyId, channelId, externalId, bodyHash, cancellationToken);
            var addTask = TryAsync(() => _table.AddEntityAsync(marker, cancellationToken));
            await Task.WhenAll(existingTask, addTask);
            if (await existingTask is { } existing)
            {
                if (await addTask)
                {
                    await TryAsync(() => _table.DeleteEntityAsync(companyId, pendingKey, ETag.All, cancellationToken));
                }

                return new Reservation(ReservationOutcome.Completed, existing);
            }

            if (await addTask)
            {
                return new Reservation(ReservationOutcome.Reserved);
            }

            var current = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, pendingKey, cancellationToken: cancellationToken);
            if (!current.HasValue || current.Value is not { } held)
            {
                // Released between our insert and this read: the holder committed, or gave up; look again.
                continue;
            }

            if (now - (held.GetDateTimeOffset("At") ?? now) < options.Value.InFlightTimeout)
            {
                return new Reservation(ReservationOutcome.InFlight);
            }

            // A marker this old belongs to a request that crashed: take it over, with its ETag so only one taker wins.
            if (await TryAsync(() => _table.UpdateEntityAsync(marker, held.ETag, TableUpdateMode.Replace, cancellationToken)))
            {
                return new Reservation(ReservationOutcome.Reserved);
            }
        }

        return new Reservation(ReservationOutcome.InFlight);
    }

    public async Task ReleaseAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default) =>
        await TryAsync(() => _table.DeleteEntityAsync(companyId, Pending(channelId, externalId), ETag.All, cancellationToken));

    public async Task<Message> AppendOutboundAsync(Conversation conversation, string? text, string? html, IReadOnlyList<AttachmentRef> attachments, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var message = new Message(Ids.New("msg"), conversation.CompanyId, conversation.ChannelId, conversation.Id, MessageDirection.Outbound, null,
            Truncate(text), Truncate(html), null, attachments, null, null, MessageStatus.Queued, null, now);
        await _table.SubmitTransactionAsync(
        [
            new(TableTransactionActionType.Add, ToEntity(message, ConversationRows.Message(conversation.Id, message.Id))),
            new(TableTransactionActionType.Add, ToEntity(message, AuditRow(conversation.ChannelId, message.Id))),
            new(TableTransactionActionType.UpdateMerge, new TableEntity(conversation.CompanyId, Conversation(conversation.Id)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now }, ETag.All),
        ], cancellationToken);
        return message;
    }

    public async Task<Conversation?> GetConversationAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        await GetConversationEntityAsync(companyId, conversationId, cancellationToken) is { } e ? ToConversation(e) : null;

    public async Task<Message?> GetMessageAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(conversationId) || !Ids.LooksValid(messageId))
        {
            return null;
        }

        var response = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, ConversationRows.Message(conversationId, messageId), cancellationToken: cancellationToken);
        return response.HasValue && response.Value is { } e ? ToMessage(e) : null;
    }

    public Task<PagedResult<Message>> ListMessagesAsync(string companyId, string conversationId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(conversationId)
            ? _table.ReadPageAsync(PrefixFilter(companyId, MessagePrefix(conversationId)), limit, continuationToken, ToMessage, cancellationToken)
            : Task.FromResult(new PagedResult<Message>([], null));

    public Task<PagedResult<Conversation>> ListConversationsAsync(string companyId, ConversationFilter filter, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var query = PrefixFilter(companyId, "c|");
        if (filter.ChannelId is { } channelId)
        {
            query += " and " + TableClient.CreateQueryFilter($"ChannelId eq {channelId}");
        }

        if (filter.ContactExternalId is { } contact)
        {
            query += " and " + TableClient.CreateQueryFilter($"ContactExternalId eq {contact}");
        }

        if (filter.Status is { } status)
        {
            query += " and " + TableClient.CreateQueryFilter($"Status eq {status.ToString()}");
        }

        return _table.ReadPageAsync(query, limit, continuationToken, ToConversation, cancellationToken);
    }

    public Task<PagedResult<Message>> ListChannelMessagesAsync(string companyId, string channelId, MessageDirection? direction, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        var prefix = AuditPrefix(channelId);
        var from = since is { } s ? prefix + MessageIdFloor(s) : prefix;
        var query = TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and RowKey ge {from} and RowKey lt {prefix[..^1] + "}"}");
        if (direction is { } d)
        {
            query += " and " + TableClient.CreateQueryFilter($"Direction eq {d.ToString()}");
        }

        if (since is { } at)
        {
            query += " and " + TableClient.CreateQueryFilter($"CreatedAt ge {at}");
        }

        return _table.ReadPageAsync(query, limit, continuationToken, ToMessage, cancellationToken);
    }

    public async Task SetStatusAsync(string companyId, string conversationId, string messageId, MessageStatus status, string? error, MailHeaders? mail = null, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var conversation = await GetConversationEntityAsync(companyId, conversationId, cancellationToken)
                ?? throw new InvalidOperationException($"Conversation {conversationId} does not exist.");
            var channelId = conversation.GetString("ChannelId");
            var now = clock.GetUtcNow();
            var changes = new Dictionary<string, object?> { ["Status"] = status.ToString(), ["Error"] = error };
            if (mail is not null)
            {
                changes["Mail"] = MailBytes(mail);
            }

            var actions = new List<TableTransactionAction>
            {
                new(TableTransactionActionType.UpdateMerge, new TableEntity(changes) { PartitionKey = companyId, RowKey = ConversationRows.Message(conversationId, messageId) }, ETag.All),
                new(TableTransactionActionType.UpdateMerge, new TableEntity(changes) { PartitionKey = companyId, RowKey = AuditRow(channelId, messageId) }, ETag.All),
            };

            // A sent e-mail's Message-ID becomes a key, so the customer's reply threads; only while the conversation is
            // open, and against its ETag, so a close running now cannot miss it.
            if (mail?.MessageId is { Length: > 0 } sentId && conversation.GetString("Status") == nameof(ConversationStatus.Open))
            {
                actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, conversation.RowKey) { ["UpdatedAt"] = now }, conversation.ETag));
                AddKeys(actions, companyId, channelId, conversationId, [Hash(sentId)], now, except: null);
            }

            try
            {
                await _table.SubmitTransactionAsync(actions, cancellationToken);
                return;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 412 && attempt < MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attempt)), clock, cancellationToken);
            }
        }
    }

    public async Task<Conversation?> CloseAsync(string companyId, string conversationId, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var entity = await GetConversationEntityAsync(companyId, conversationId, cancellationToken);
            if (entity is null)
            {
                return null;
            }

            var conversation = ToConversation(entity);
            if (conversation.Status == ConversationStatus.Closed)
            {
                return conversation;
            }

            var now = clock.GetUtcNow();
            var actions = new List<TableTransactionAction>();
            var keys = new List<TableEntity>();
            await foreach (var reverse in _table.QueryAsync<TableEntity>(PrefixFilter(companyId, ReverseKeyPrefix(conversationId)), cancellationToken: cancellationToken))
            {
                keys.Add(reverse);
            }

            // A key may have moved on to another conversation since; only rows still pointing here are dropped.
            var forward = await Task.WhenAll(keys.Select(k => _table.GetEntityIfExistsAsync<TableEntity>(companyId, Key(conversation.ChannelId, k.GetString("KeyHash")), cancellationToken: cancellationToken)));
            foreach (var (reverse, row) in keys.Zip(forward))
            {
                if (row.HasValue && row.Value is { } f && f.GetString("ConversationId") == conversationId)
                {
                    actions.Add(new(TableTransactionActionType.Delete, f, f.ETag));
                }

                actions.Add(new(TableTransactionActionType.Delete, reverse, ETag.All));
            }

            var open = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, Open(conversation.ChannelId, conversation.Contact.ExternalId), cancellationToken: cancellationToken);
            if (open.HasValue && open.Value is { } o && o.GetString("ConversationId") == conversationId)
            {
                actions.Add(new(TableTransactionActionType.Delete, o, o.ETag));
            }

            var closed = conversation with { Status = ConversationStatus.Closed, ClosedAt = now, UpdatedAt = now };
            try
            {
                // Key rows first, in chunks; the last transaction closes the conversation against the ETag read above,
                // so a message routed here meanwhile (which touches the conversation) makes the close start over.
                var chunks = actions.Chunk(99).ToList();
                for (var i = 0; i < chunks.Count - 1; i++)
                {
                    await _table.SubmitTransactionAsync(chunks[i], cancellationToken);
                }

                var last = (chunks.Count > 0 ? chunks[^1] : []).ToList();
                last.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, entity.RowKey)
                {
                    ["Status"] = nameof(ConversationStatus.Closed),
                    ["ClosedAt"] = now,
                    ["UpdatedAt"] = now,
                }, entity.ETag));
                await _table.SubmitTransactionAsync(last, cancellationToken);
                return closed;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 404 or 412 && attempt < MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attempt)), clock, cancellationToken);
            }
        }
    }

    private async Task<TableEntity?> GetConversationEntityAsync(string companyId, string conversationId, CancellationToken cancellationToken)
    {
        if (!Ids.LooksValid(conversationId))
        {
            return null;
        }

        var response = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, Conversation(conversationId), cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Where a message goes: the first key that names an open conversation, else the contact's open conversation, else nowhere yet.</summary>
    private async Task<Route> RouteAsync(string companyId, string channelId, string contactExternalId, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        if (keys.Count > 0)
        {
            var found = await Task.WhenAll(keys.Select(k => _table.GetEntityIfExistsAsync<TableEntity>(companyId, Key(channelId, Hash(k)), cancellationToken: cancellationToken)));
            if (found.FirstOrDefault(r => r.HasValue && r.Value is not null) is { } hit)
            {
                return new Route(hit.Value!, hit.Value!.GetString("ConversationId"));
            }
        }

        var open = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, Open(channelId, contactExternalId), cancellationToken: cancellationToken);
        return open.HasValue && open.Value is { } row ? new Route(row, row.GetString("ConversationId")) : new Route(null, null);
    }

    private async Task<AppendResult?> FindExistingAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken)
    {
        var row = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, Idempotency(channelId, externalId), cancellationToken: cancellationToken);
        if (!row.HasValue || row.Value is not { } e)
        {
            return null;
        }

        var first = await GetMessageAsync(companyId, e.GetString("ConversationId"), e.GetString("MessageId"), cancellationToken)
            ?? throw new InvalidOperationException("An idempotency row names a message that does not exist; they are written in one transaction.");
        return new AppendResult(string.Equals(e.GetString("BodyHash"), bodyHash, StringComparison.Ordinal) ? AppendOutcome.Duplicate : AppendOutcome.Mismatch, first);
    }

    private static void AddKeys(List<TableTransactionAction> actions, string companyId, string channelId, string conversationId, IEnumerable<string> keyHashes, DateTimeOffset now, string? except)
    {
        foreach (var hash in keyHashes)
        {
            var rowKey = Key(channelId, hash);
            if (rowKey == except)
            {
                continue;
            }

            // Upsert: the newest message to carry a key wins it.
            actions.Add(new(TableTransactionActionType.UpsertReplace, RoutingRow(companyId, rowKey, conversationId, now)));
            actions.Add(new(TableTransactionActionType.UpsertReplace, new TableEntity(companyId, ReverseKey(conversationId, hash)) { ["KeyHash"] = hash }));
        }
    }

    private static TableEntity RoutingRow(string companyId, string rowKey, string conversationId, DateTimeOffset now) =>
        new(companyId, rowKey) { ["ConversationId"] = conversationId, ["LastMessageAt"] = now };

    private static async Task<bool> TryAsync(Func<Task> action)
    {
        try
        {
            await action();
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 409 or 412)
        {
            return false;
        }
    }

    /// <summary>The routing row that led to an open conversation (null: open a new one).</summary>
    private sealed record Route(TableEntity? Row, string? ConversationId);
}
