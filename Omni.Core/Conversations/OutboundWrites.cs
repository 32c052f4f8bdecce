using Azure;
using Azure.Data.Tables;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// The writes of <see cref="TableConversationStore"/> for an agent's message: stored as queued together with its
/// outbox item (so it is handed to the queue even if this process dies first), then its status after each attempt.
/// </summary>
internal sealed class OutboundWrites(TableClient table, ConversationReads reads, ConversationOutbox outbox, TimeProvider clock)
{
    public async Task<Message> AppendAsync(Conversation conversation, string? text, string? html, IReadOnlyList<AttachmentRef> attachments, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var message = NewMessage(conversation.CompanyId, conversation.ChannelId, conversation.Id, text, html, attachments, null, now);
        var actions = await MessageActionsAsync(message, cancellationToken);
        actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(conversation.CompanyId, Conversation(conversation.Id)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now }, ETag.All));
        await table.SubmitAsync(actions, cancellationToken);
        return message;
    }

    /// <summary>
    /// A staged send's message, as sent and with no outbox item. The first transaction assumes the conversation open and
    /// checks it: it updates the open marker on condition that it exists, which a close deletes, so it needs no read. A
    /// conversation opened before the marker existed (or by an agent's first message) fails that check while open: then
    /// it is read, and the message is stored against the version read, writing the marker for the next one.
    /// </summary>
    public Task<StagedAppendOutcome> AppendStagedAsync(Message message, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, $"storing message {message.Id}", async _ =>
        {
            var company = message.CompanyId;
            var now = clock.GetUtcNow();
            try
            {
                await table.SubmitAsync(
                [
                    .. StagedRows(message, now),
                    new(TableTransactionActionType.UpdateMerge, new TableEntity(company, OpenMarker(message.ConversationId)) { ["LastMessageAt"] = now }, ETag.All),
                ], cancellationToken);
                return StagedAppendOutcome.Stored;
            }
            catch (StorageConflictException)
            {
                // Closed, or open without a marker: only the row can tell.
            }

            if (await reads.GetConversationEntityAsync(company, message.ConversationId, cancellationToken) is not { } conversation)
            {
                return StagedAppendOutcome.ConversationMissing;
            }

            if (conversation.GetString("Status") != nameof(ConversationStatus.Open))
            {
                return StagedAppendOutcome.ConversationClosed;
            }

            var actions = StagedRows(message, now).ToList();
            // Against the version read: a close since then changed the row, and this transaction fails and starts over.
            actions[^1] = new(TableTransactionActionType.UpdateMerge, actions[^1].Entity, conversation.ETag);
            actions.Add(new(TableTransactionActionType.UpsertMerge, OpenMarkerRow(company, message.ConversationId, now)));
            await table.SubmitAsync(actions, cancellationToken);
            return StagedAppendOutcome.Stored;
        }, cancellationToken);

    /// <summary>The message, its audit row, and last the conversation's touch (unconditional: the caller guards it or replaces it).</summary>
    private static IEnumerable<TableTransactionAction> StagedRows(Message message, DateTimeOffset now) =>
    [
        new(TableTransactionActionType.Add, ToEntity(message, ConversationRows.Message(message.ConversationId, message.Id))),
        new(TableTransactionActionType.Add, ToEntity(message, AuditRow(message.ChannelId, message.Id))),
        new(TableTransactionActionType.UpdateMerge, new TableEntity(message.CompanyId, Conversation(message.ConversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now }, ETag.All),
    ];

    public Task<Message> AppendToContactAsync(string companyId, string channelId, ContactInfo contact, string? text, IReadOnlyDictionary<string, string> metadata, bool openConversation, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, $"storing a message to a contact on channel {channelId}", async _ =>
        {
            var now = clock.GetUtcNow();
            var open = openConversation ? await table.FindAsync(companyId, Open(channelId, contact.ExternalId), cancellationToken) : null;
            var conversationId = open?.GetString("ConversationId") ?? NewConversationId(now);
            var message = NewMessage(companyId, channelId, conversationId, text, null, [], metadata, now);
            var actions = await MessageActionsAsync(message, cancellationToken);
            if (open is not null)
            {
                // Rewriting the routing row with its ETag guards against a close that deleted it meanwhile (then: try again).
                actions.Add(new(TableTransactionActionType.UpdateMerge, RoutingRow(companyId, open.RowKey, conversationId, now), open.ETag));
                actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, Conversation(conversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now }, ETag.All));
            }
            else
            {
                var conversation = new Conversation(conversationId, companyId, channelId, contact, null, null,
                    openConversation ? ConversationStatus.Open : ConversationStatus.Closed, now, now, openConversation ? null : now) { IsSendRecord = !openConversation };
                actions.Add(new(TableTransactionActionType.Add, ToEntity(conversation, now)));
                if (openConversation)
                {
                    // Add, not upsert: a first message of the contact racing this one must not open a second conversation.
                    actions.Add(new(TableTransactionActionType.Add, RoutingRow(companyId, Open(channelId, contact.ExternalId), conversationId, now)));
                }
            }

            await table.SubmitAsync(actions, cancellationToken);
            return message;
        }, cancellationToken);

    private static Message NewMessage(string companyId, string channelId, string conversationId, string? text, string? html, IReadOnlyList<AttachmentRef> attachments, IReadOnlyDictionary<string, string>? metadata, DateTimeOffset now) =>
        Message.NewOutbound(companyId, channelId, conversationId, text, html, attachments, metadata, now);

    /// <summary>The message, its audit row and its outbox item, whose index row is written first (see <see cref="ConversationOutbox"/>).</summary>
    private async Task<List<TableTransactionAction>> MessageActionsAsync(Message message, CancellationToken cancellationToken)
    {
        var handOff = outbox.ForMessage(message);
        await outbox.IndexAsync(handOff, cancellationToken);
        return
        [
            new(TableTransactionActionType.Add, ToEntity(message, ConversationRows.Message(message.ConversationId, message.Id))),
            new(TableTransactionActionType.Add, ToEntity(message, AuditRow(message.ChannelId, message.Id))),
            ConversationOutbox.Row(handOff),
        ];
    }

    public Task SetStatusAsync(string companyId, string conversationId, string messageId, MessageStatus status, string? error, MailHeaders? mail = null, string? providerMessageId = null, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, $"setting the status of message {messageId}", async _ =>
        {
            // Only a sent e-mail's key needs the conversation's state; anything else needs its channel, known once read.
            var conversation = mail?.MessageId is { Length: > 0 } || reads.KnownChannelOf(companyId, conversationId) is null
                ? await reads.GetConversationEntityAsync(companyId, conversationId, cancellationToken)
                    ?? throw new InvalidOperationException($"Conversation {conversationId} does not exist.")
                : null;
            var channelId = conversation?.GetString("ChannelId") ?? reads.KnownChannelOf(companyId, conversationId)!;
            var now = clock.GetUtcNow();
            var changes = new Dictionary<string, object?> { ["Status"] = status.ToString(), ["Error"] = error };
            if (mail is not null)
            {
                changes["Mail"] = MailBytes(mail);
            }

            if (providerMessageId is not null)
            {
                changes["ProviderMessageId"] = providerMessageId;
            }

            var actions = new List<TableTransactionAction>
            {
                new(TableTransactionActionType.UpdateMerge, new TableEntity(changes) { PartitionKey = companyId, RowKey = ConversationRows.Message(conversationId, messageId) }, ETag.All),
                new(TableTransactionActionType.UpdateMerge, new TableEntity(changes) { PartitionKey = companyId, RowKey = AuditRow(channelId, messageId) }, ETag.All),
            };

            // A sent e-mail's Message-ID becomes a key, so the customer's reply threads; only while the conversation is
            // open, and against its ETag, so a close running now cannot miss it.
            if (mail?.MessageId is { Length: > 0 } sentId && conversation!.GetString("Status") == nameof(ConversationStatus.Open))
            {
                actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, conversation.RowKey) { ["UpdatedAt"] = now }, conversation.ETag));
                AddKeys(actions, companyId, channelId, conversationId, [Hash(sentId)], now, except: null);
            }

            await table.SubmitAsync(actions, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// Moves the message's delivery status forward (never back, see <see cref="MessageDelivery.Advances"/>) under the
    /// message row's ETag, so two status webhooks processed at once cannot both win; false when it did not move.
    /// </summary>
    public Task<bool> SetDeliveryAsync(string companyId, string conversationId, string messageId, MessageDelivery delivery, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, $"setting the delivery status of message {messageId}", async _ =>
        {
            if (await table.FindAsync(companyId, ConversationRows.Message(conversationId, messageId), cancellationToken) is not { } row
                || row.GetString("Direction") != nameof(MessageDirection.Outbound)
                || !MessageDelivery.Advances(ToDelivery(row), delivery))
            {
                return false;
            }

            var changes = DeliveryColumns(delivery);
            await table.SubmitAsync(
            [
                new(TableTransactionActionType.UpdateMerge, new TableEntity(changes) { PartitionKey = companyId, RowKey = row.RowKey }, row.ETag),
                new(TableTransactionActionType.UpdateMerge, new TableEntity(changes) { PartitionKey = companyId, RowKey = AuditRow(row.GetString("ChannelId"), messageId) }, ETag.All),
            ], cancellationToken);
            return true;
        }, cancellationToken);
}
