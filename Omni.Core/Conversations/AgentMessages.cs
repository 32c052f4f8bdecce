using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Telemetry;
using Omni.Validation;

namespace Omni.Conversations;

/// <summary>What became of an agent's message.</summary>
internal enum SendMessageOutcome
{
    /// <summary>Stored with its outbox item, so it reaches the transport's queue even if handing it on fails now (202).</summary>
    Queued,

    /// <summary>No such conversation in this company (404).</summary>
    NotFound,

    /// <summary>Not a valid message: <see cref="SendMessageResult.Errors"/> says why (400).</summary>
    Invalid,

    /// <summary>An attachment is over its size (413).</summary>
    TooLarge,

    /// <summary>The conversation is closed (409).</summary>
    ConversationClosed,

    /// <summary>The conversation's channel was deleted (409).</summary>
    ChannelDeleted,

    /// <summary>The provider would not take it on this conversation now (422): <see cref="SendMessageResult.Refusal"/> says why.</summary>
    Refused,
}

internal sealed record SendMessageResult(SendMessageOutcome Outcome, Message? Message = null, Dictionary<string, string[]>? Errors = null, SendRefusal? Refusal = null);

/// <summary>
/// What an agent does on a conversation: send a message to the contact, by the channel's transport (the SendOutbound
/// function does the sending), and close it, which tells an omni channel's integrator by webhook. Both are stored with
/// an outbox item in the same transaction and handed on right after; <see cref="OutboxSweep"/> hands on what was not.
/// <para>
/// A transport whose send is a hand-off inside this app (<see cref="IStagedOutboundTransport"/>: the omni channel's
/// webhook) skips the outbound queue: the send is staged first, the message stored as sent, then the send handed on.
/// Its conversations are remembered, so a next message needs no read of the conversation: the store's transaction
/// checks that it is still open.
/// </para>
/// </summary>
internal sealed partial class AgentMessages(IConversationStore store, IChannelStore channels, ChannelKinds kinds, AttachmentStore attachments, ConversationOutbox outbox, OutboxHandOff handOff,
    BotReturns bots, IMemoryCache cache, TimeProvider clock, ILogger<AgentMessages> logger)
{
    // Only what never changes is taken from a remembered conversation (its channel and contact); whether it is still
    // open is checked by the staged append itself.
    private static readonly TimeSpan ConversationMemory = TimeSpan.FromMinutes(10);

    // As receive_hook's: a busy agent's channel is read once per 30 s. A first delivery attempt uses the webhook as
    // its publisher saw it for as long (WebhookDestinations.SnapshotLifetime); the outbound queue's sender reads it again.
    private static readonly TimeSpan ChannelMemory = TimeSpan.FromSeconds(30);

    public async Task<SendMessageResult> SendAsync(string companyId, string conversationId, string? text, IReadOnlyList<AttachmentUpload?>? uploads, CancellationToken cancellationToken = default)
    {
        var recalled = cache.Get<Conversation>(ConversationKey(companyId, conversationId));
        var conversation = recalled ?? await store.GetConversationAsync(companyId, conversationId, cancellationToken);
        if (conversation is null)
        {
            return new SendMessageResult(SendMessageOutcome.NotFound);
        }

        var errors = new ValidationErrors();
        var decoded = AttachmentRules.Validate(uploads, errors, out var tooLarge);
        if (string.IsNullOrWhiteSpace(text) && decoded.Count == 0)
        {
            errors.Add("text", "Required unless there are attachments.");
        }

        ConversationLimits.CheckText("text", text, errors);
        if (!errors.IsValid)
        {
            return new SendMessageResult(tooLarge ? SendMessageOutcome.TooLarge : SendMessageOutcome.Invalid, Errors: errors.ToDictionary());
        }

        if (conversation.Status == ConversationStatus.Closed)
        {
            return new SendMessageResult(SendMessageOutcome.ConversationClosed);
        }

        if (await GetChannelAsync(companyId, conversation.ChannelId, cancellationToken) is not { } channel)
        {
            Forget(conversation);
            return new SendMessageResult(SendMessageOutcome.ChannelDeleted);
        }

        var transport = kinds.Part<IOutboundTransport>(channel.Type);
        if (transport?.CheckSend(channel, conversation, text, decoded.Count > 0) is { } refusal)
        {
            return new SendMessageResult(SendMessageOutcome.Refused, Refusal: refusal);
        }

        var refs = new List<AttachmentRef>();
        foreach (var a in decoded)
        {
            refs.Add(await attachments.UploadAsync(companyId, conversation.ChannelId, a.FileName, a.ContentType, a.Content, cancellationToken));
        }

        if (transport is IStagedOutboundTransport staged && await SendStagedAsync(staged, channel, conversation, text, refs, cancellationToken) is { } sent)
        {
            return sent;
        }

        if (recalled is not null && await store.GetConversationAsync(companyId, conversationId, cancellationToken) is not { Status: ConversationStatus.Open })
        {
            // Not staged after all (the channel cannot take it now): the outbound queue's way needs the conversation as it is.
            Forget(conversation);
            return new SendMessageResult(SendMessageOutcome.ConversationClosed);
        }

        var message = await store.AppendOutboundAsync(conversation, text, null, refs, cancellationToken);
        await handOff.TryHandOnAsync(outbox.ForMessage(message), cancellationToken);
        return new SendMessageResult(SendMessageOutcome.Queued, message);
    }

    /// <summary>Null when the transport cannot stage it now: the caller sends it the outbound queue's way.</summary>
    private async Task<SendMessageResult?> SendStagedAsync(IStagedOutboundTransport transport, Channel channel, Conversation conversation, string? text, List<AttachmentRef> refs,
        CancellationToken cancellationToken)
    {
        var message = Message.NewOutbound(conversation.CompanyId, conversation.ChannelId, conversation.Id, text, null, refs, null, clock.GetUtcNow()) with { Status = MessageStatus.Sent };
        if (await transport.StageAsync(channel, conversation, message, cancellationToken) is not { } send)
        {
            return null;
        }

        // Should this throw, whether the message was stored is not known: the staged send stays, and is sent only if it was.
        var outcome = await store.AppendStagedAsync(message, cancellationToken);
        if (outcome != StagedAppendOutcome.Stored)
        {
            Forget(conversation);
            try
            {
                await transport.DiscardAsync(send, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Its message does not exist, so it is discarded when it is swept instead of sent.
                LogDiscardDeferred(ex, message.Id);
            }

            return new SendMessageResult(outcome == StagedAppendOutcome.ConversationClosed ? SendMessageOutcome.ConversationClosed : SendMessageOutcome.NotFound);
        }

        cache.Set(ConversationKey(conversation.CompanyId, conversation.Id), conversation, new MemoryCacheEntryOptions { SlidingExpiration = ConversationMemory, Size = 1 });
        OmniTelemetry.MessageSent(channel.Type, SendOutcome.Sent);
        try
        {
            await transport.HandOnAsync(send, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogHandOnDeferred(ex, message.Id, channel.Type);
        }

        return new SendMessageResult(SendMessageOutcome.Queued, message);
    }

    private async Task<Channel?> GetChannelAsync(string companyId, string channelId, CancellationToken cancellationToken)
    {
        var key = (typeof(AgentMessages), "channel", companyId, channelId);
        if (cache.TryGetValue(key, out Channel? channel))
        {
            return channel;
        }

        channel = await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken);
        if (channel is not null)
        {
            cache.Set(key, channel, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ChannelMemory, Size = 1 });
        }

        return channel;
    }

    private void Forget(Conversation conversation) => cache.Remove(ConversationKey(conversation.CompanyId, conversation.Id));

    private static (Type, string, string, string) ConversationKey(string companyId, string conversationId) => (typeof(AgentMessages), "conversation", companyId, conversationId);

    /// <summary>
    /// Closes the conversation (idempotent) and publishes <c>conversation.closed</c> on an omni channel; null when it does
    /// not exist. On a channel with <c>returnToBot</c> agents' close returns it to the bot instead (it stays open).
    /// </summary>
    public async Task<Conversation?> CloseAsync(string companyId, string conversationId, CancellationToken cancellationToken = default)
    {
        if (await bots.TryReturnAsync(companyId, conversationId, cancellationToken) is { } returned)
        {
            return returned;
        }

        var closed = await store.CloseAsync(companyId, conversationId, cancellationToken);
        if (closed is null)
        {
            return null;
        }

        // Every close publishes, the repeated one too: the publisher keys the event by conversation, so a close retried
        // after a failed publish delivers it and concurrent closes deliver it once under one webhook-id. A publish that
        // fails is left to the outbox sweep, as the close is stored with its outbox item.
        await handOff.TryHandOnAsync(outbox.ForClose(companyId, closed.Id, closed.ClosedAt ?? closed.UpdatedAt), cancellationToken);
        return closed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand on the {ChannelType} send of message {MessageId} now; it is swept and sent later")]
    private partial void LogHandOnDeferred(Exception exception, string messageId, string channelType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not discard the staged send of message {MessageId}, which was not stored; the sweep discards it")]
    private partial void LogDiscardDeferred(Exception exception, string messageId);
}
