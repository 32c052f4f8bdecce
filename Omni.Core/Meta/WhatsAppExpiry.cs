using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using Omni.Storage;

namespace Omni.Meta;

/// <summary>A conversation the expiry looks at once <see cref="DueAt"/> has passed.</summary>
internal sealed record ExpiryCheck(DateTimeOffset DueAt, string CompanyId, string ChannelId, string ConversationId);

/// <summary>
/// WhatsApp's conversation expiry: a conversation with no inbound message for its channel's <c>expirationMinutes</c>
/// is closed with reason <c>expired</c> by <see cref="WhatsAppExpirySweep"/>. A conversation gets one row in a
/// <see cref="DueIndex"/> (the <c>WhatsAppExpiry</c> table) when it opens, due <c>expirationMinutes</c> after; an inbound
/// message writes nothing for expiry: the sweep, finding the row due, reads the conversation and moves the row to the
/// conversation's real due time when a message came in since. The row only says when to look; the conversation and
/// the channel's settings say whether it expired, so a row that is early costs a look and a stale one is dropped.
/// </summary>
internal sealed class WhatsAppExpiry(TableServiceClient tables, IConversationStore store, IOptions<MetaInboundOptions> options)
{
    public const string DefaultTable = "WhatsAppExpiry";

    private readonly DueIndex _index = new(tables.GetTableClient(options.Value.ExpiryTableName), "due");

    /// <summary>The channel's <c>expirationMinutes</c>; null when it has none (not a WhatsApp channel): its conversations never expire.</summary>
    public static TimeSpan? Expiration(Channel channel) =>
        channel.Type == ChannelTypes.WhatsApp && channel.Settings["expirationMinutes"] is JsonValue v && v.TryGetValue<int>(out var minutes) && minutes > 0
            ? TimeSpan.FromMinutes(minutes)
            : null;

    /// <summary>When the conversation expires: <paramref name="expiration"/> after the customer's last message, or after it opened when none came.</summary>
    public static DateTimeOffset DueAt(Conversation conversation, TimeSpan expiration) => (conversation.LastInboundAt ?? conversation.CreatedAt) + expiration;

    /// <summary>
    /// After an inbound message is stored: schedules the conversation it opened. A copy of a message stored before (Meta's
    /// retry, or the event processed again after a crash that may have come before the row was written) schedules its
    /// conversation again while it is open; copies are rare, so the point read they cost is too.
    /// </summary>
    public async Task InboundStoredAsync(Channel channel, AppendResult result, CancellationToken cancellationToken = default)
    {
        if (Expiration(channel) is not { } expiration)
        {
            return;
        }

        if (result.OpenedConversation)
        {
            await OpenedAsync(channel, result.Message, cancellationToken);
        }
        else if (result.Outcome == AppendOutcome.Duplicate
            && await store.GetConversationAsync(channel.CompanyId, result.Message.ConversationId, cancellationToken) is { Status: ConversationStatus.Open } conversation)
        {
            await AddAsync(new ExpiryCheck(DueAt(conversation, expiration), channel.CompanyId, channel.Id, conversation.Id), cancellationToken);
        }
    }

    /// <summary><paramref name="message"/> opened its conversation (or, a template, may have): it expires from then unless the customer writes.</summary>
    public Task OpenedAsync(Channel channel, Message message, CancellationToken cancellationToken = default) =>
        Expiration(channel) is { } expiration
            ? AddAsync(new ExpiryCheck(message.CreatedAt + expiration, channel.CompanyId, channel.Id, message.ConversationId), cancellationToken)
            : Task.CompletedTask;

    /// <summary>The conversation is not due yet (a message came in since): looked at again at <paramref name="dueAt"/>; the new row first, so a crash between keeps one.</summary>
    public async Task RescheduleAsync(ExpiryCheck check, DateTimeOffset dueAt, CancellationToken cancellationToken = default)
    {
        await AddAsync(check with { DueAt = dueAt }, cancellationToken);
        await DropAsync(check, cancellationToken);
    }

    public Task DropAsync(ExpiryCheck check, CancellationToken cancellationToken = default) =>
        _index.DropAsync(check.DueAt, Key(check), cancellationToken);

    /// <summary>Rows due at or before <paramref name="now"/>, oldest first: one range query on one partition.</summary>
    public async IAsyncEnumerable<ExpiryCheck> DueAsync(DateTimeOffset now, int max, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (dueAt, _, e) in _index.DueAsync(now, max, cancellationToken))
        {
            yield return new ExpiryCheck(dueAt, e.GetString("CompanyId"), e.GetString("ChannelId"), e.GetString("ConversationId"));
        }
    }

    private Task AddAsync(ExpiryCheck check, CancellationToken cancellationToken) =>
        _index.AddAsync(check.DueAt, Key(check), new TableEntity
        {
            ["CompanyId"] = check.CompanyId,
            ["ChannelId"] = check.ChannelId,
            ["ConversationId"] = check.ConversationId,
        }, cancellationToken);

    // Company and conversation make the key unique (after the due time's ticks).
    private static string Key(ExpiryCheck check) => $"{check.CompanyId}|{check.ConversationId}";
}
