using Azure;
using Azure.Data.Tables;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// Closing for <see cref="TableConversationStore"/>: the conversation's routing rows go, so its keys and its contact
/// stop routing messages to it, then the conversation is marked closed against the version read first, in the same
/// transaction as its outbox item, so <c>conversation.closed</c> is published even if this process dies first. The
/// close records its reason; an expiry closes only a conversation still idle at the version it closes.
/// </summary>
internal sealed class ConversationCloses(TableClient table, ConversationReads reads, ConversationOutbox outbox, TimeProvider clock)
{
    /// <param name="idleSince">
    /// Set by an expiry: close only when nothing came in after it (the last inbound message, or the opening when none).
    /// A message routed here meanwhile touches the conversation, so the close starts over and finds it no longer idle.
    /// </param>
    public Task<Conversation?> CloseAsync(string companyId, string conversationId, ConversationCloseReason reason, DateTimeOffset? idleSince = null, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, $"closing conversation {conversationId}",
            _ => AttemptAsync(companyId, conversationId, reason, idleSince, cancellationToken), cancellationToken);

    private async Task<Conversation?> AttemptAsync(string companyId, string conversationId, ConversationCloseReason reason, DateTimeOffset? idleSince, CancellationToken cancellationToken)
    {
        var entity = await reads.GetConversationEntityAsync(companyId, conversationId, cancellationToken);
        if (entity is null)
        {
            return null;
        }

        var conversation = ToConversation(entity);
        if (conversation.Status == ConversationStatus.Closed || (idleSince is { } since && (conversation.LastInboundAt ?? conversation.CreatedAt) > since))
        {
            return conversation;
        }

        var now = clock.GetUtcNow();
        var actions = new List<TableTransactionAction>();
        var keys = new List<TableEntity>();
        await foreach (var reverse in table.QueryEntitiesAsync(PrefixFilter(companyId, ReverseKeyPrefix(conversationId)), cancellationToken: cancellationToken))
        {
            keys.Add(reverse);
        }

        // A key may have moved on to another conversation since; only rows still pointing here are dropped. The open
        // marker has no key: it is dropped with the reverse rows.
        var forward = await Task.WhenAll(keys.Select(k => k.GetString("KeyHash") is { } hash
            ? table.FindAsync(companyId, Key(conversation.ChannelId, hash), cancellationToken)
            : Task.FromResult<TableEntity?>(null)));
        foreach (var (reverse, row) in keys.Zip(forward))
        {
            if (row is not null && row.GetString("ConversationId") == conversationId)
            {
                actions.Add(new(TableTransactionActionType.Delete, row, row.ETag));
            }

            actions.Add(new(TableTransactionActionType.Delete, reverse, ETag.All));
        }

        if (await table.FindAsync(companyId, Open(conversation.ChannelId, conversation.Contact.ExternalId), cancellationToken) is { } open
            && open.GetString("ConversationId") == conversationId)
        {
            actions.Add(new(TableTransactionActionType.Delete, open, open.ETag));
        }

        // Key rows first, in chunks; the last transaction closes the conversation against the ETag read above, so a
        // message routed here meanwhile (which touches the conversation) makes the close start over.
        var chunks = actions.Chunk(98).ToList();
        for (var i = 0; i < chunks.Count - 1; i++)
        {
            await table.SubmitAsync(chunks[i], cancellationToken);
        }

        var last = (chunks.Count > 0 ? chunks[^1] : []).ToList();
        last.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, entity.RowKey)
        {
            ["Status"] = nameof(ConversationStatus.Closed),
            ["ClosedAt"] = now,
            ["UpdatedAt"] = now,
            ["CloseReason"] = reason.ToString(),
        }, entity.ETag));
        var handOff = outbox.ForClose(companyId, conversationId, now);
        last.Add(ConversationOutbox.Row(handOff));
        await outbox.IndexAsync(handOff, cancellationToken);
        await table.SubmitAsync(last, cancellationToken);
        return conversation with { Status = ConversationStatus.Closed, ClosedAt = now, UpdatedAt = now, CloseReason = reason };
    }
}
