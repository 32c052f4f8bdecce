using Azure.Data.Tables;
using Microsoft.Extensions.Caching.Memory;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>The reads of <see cref="TableConversationStore"/>: point reads and one-page listings, which the writes reuse.</summary>
internal sealed class ConversationReads(TableClient table)
{
    // A conversation's channel never changes, so what any read saw stays true: a write that needs only the channel id
    // (a message's status, on its audit row) asks here before reading the conversation again.
    private readonly MemoryCache _channels = new(new MemoryCacheOptions { SizeLimit = 50_000 });

    public async Task<Conversation?> GetConversationAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        await GetConversationEntityAsync(companyId, conversationId, cancellationToken) is { } e ? ToConversation(e) : null;

    /// <summary>The conversation row itself, for a write that must hold on to its version.</summary>
    public async Task<TableEntity?> GetConversationEntityAsync(string companyId, string conversationId, CancellationToken cancellationToken = default)
    {
        var row = Ids.LooksValid(conversationId) ? await table.FindAsync(companyId, Conversation(conversationId), cancellationToken) : null;
        if (row?.GetString("ChannelId") is { } channelId)
        {
            _channels.Set((companyId, conversationId), channelId, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(10) });
        }

        return row;
    }

    /// <summary>The channel of a conversation this instance has read, without a read; null when it has not.</summary>
    public string? KnownChannelOf(string companyId, string conversationId) => _channels.Get<string>((companyId, conversationId));

    public async Task<Message?> GetMessageAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(conversationId) && Ids.LooksValid(messageId)
            && await table.FindAsync(companyId, ConversationRows.Message(conversationId, messageId), cancellationToken) is { } e
            ? ToMessage(e)
            : null;

    /// <summary>What an external id became, if it was stored: the first message, as a duplicate (same body) or a mismatch.</summary>
    public async Task<AppendResult?> FindExistingAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken = default)
    {
        if (await table.FindAsync(companyId, Idempotency(channelId, externalId), cancellationToken) is not { } e)
        {
            return null;
        }

        var first = await GetMessageAsync(companyId, e.GetString("ConversationId"), e.GetString("MessageId"), cancellationToken)
            ?? throw new InvalidOperationException("An idempotency row names a message that does not exist; they are written in one transaction.");
        return new AppendResult(string.Equals(e.GetString("BodyHash"), bodyHash, StringComparison.Ordinal) ? AppendOutcome.Duplicate : AppendOutcome.Mismatch, first);
    }

    public Task<PagedResult<Message>> ListMessagesAsync(string companyId, string conversationId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(conversationId)
            ? table.ReadPageAsync(PrefixFilter(companyId, MessagePrefix(conversationId)), limit, continuationToken, ToMessage, cancellationToken)
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

        return table.ReadPageAsync(query, limit, continuationToken, ToConversation, cancellationToken);
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

        return table.ReadPageAsync(query, limit, continuationToken, ToMessage, cancellationToken);
    }
}
