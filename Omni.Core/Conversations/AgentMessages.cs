using Omni.Channels;
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
/// </summary>
internal sealed class AgentMessages(IConversationStore store, IChannelStore channels, ChannelKinds kinds, AttachmentStore attachments, ConversationOutbox outbox, OutboxHandOff handOff,
    BotReturns bots)
{
    public async Task<SendMessageResult> SendAsync(string companyId, string conversationId, string? text, IReadOnlyList<AttachmentUpload?>? uploads, CancellationToken cancellationToken = default)
    {
        var conversation = await store.GetConversationAsync(companyId, conversationId, cancellationToken);
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

        if (await channels.GetAsync(companyId, conversation.ChannelId, cancellationToken: cancellationToken) is not { } channel)
        {
            return new SendMessageResult(SendMessageOutcome.ChannelDeleted);
        }

        if (kinds.Part<IOutboundTransport>(channel.Type)?.CheckSend(channel, conversation, text, decoded.Count > 0) is { } refusal)
        {
            return new SendMessageResult(SendMessageOutcome.Refused, Refusal: refusal);
        }

        var refs = new List<AttachmentRef>();
        foreach (var a in decoded)
        {
            refs.Add(await attachments.UploadAsync(companyId, conversation.ChannelId, a.FileName, a.ContentType, a.Content, cancellationToken));
        }

        var message = await store.AppendOutboundAsync(conversation, text, null, refs, cancellationToken);
        await handOff.TryHandOnAsync(outbox.ForMessage(message), cancellationToken);
        return new SendMessageResult(SendMessageOutcome.Queued, message);
    }

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
}
