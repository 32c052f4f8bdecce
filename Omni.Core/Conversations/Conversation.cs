namespace Omni.Conversations;

public enum MessageDirection
{
    Inbound,
    Outbound,
}

public enum ConversationStatus
{
    Open,
    Closed,
}

/// <summary>Why a conversation was closed: by an agent (the close endpoint), or by its channel's expiry (WhatsApp's <c>expirationMinutes</c> without an inbound message).</summary>
public enum ConversationCloseReason
{
    Agent,
    Expired,
}

/// <summary>Who answers a conversation: the agents of a service, or a bot (contract section 10).</summary>
public enum ConversationHandler
{
    Agents,
    Bot,
}

/// <summary>Where an outbound message is: queued, handed to its transport, or visibly failed.</summary>
public enum MessageStatus
{
    Accepted,
    Queued,
    Sent,
    Failed,
}

/// <summary>The customer on the other side, identified per channel by <see cref="ExternalId"/> (integrator id, e-mail address, phone).</summary>
public sealed record ContactInfo(string ExternalId, string? Name = null, string? Email = null, string? Phone = null);

public sealed record Conversation(
    string Id,
    string CompanyId,
    string ChannelId,
    ContactInfo Contact,
    string? ExternalId,
    string? Subject,
    ConversationStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ClosedAt)
{
    /// <summary>When the customer's last message arrived (null: none yet): what a provider's reply window counts from.</summary>
    public DateTimeOffset? LastInboundAt { get; init; }

    /// <summary>
    /// Closed from the start: it only records what the app sent to a contact without opening a conversation (a
    /// WhatsApp template when <c>hsmOpensConversation</c> is false), so it routes nothing and its messages still go out.
    /// </summary>
    public bool IsSendRecord { get; init; }

    /// <summary>Why it was closed (null while open, and on a send record).</summary>
    public ConversationCloseReason? CloseReason { get; init; }

    /// <summary>Agents unless a bot channel opened it with its bot or agents closed it back to the bot (<c>returnToBot</c>).</summary>
    public ConversationHandler Handler { get; init; }

    /// <summary>The bot that handles it, or handled it before it was handed to agents.</summary>
    public string? BotId { get; init; }

    /// <summary>The service a bot handed it to; null: the channel's own service.</summary>
    public string? ServiceId { get; init; }

    /// <summary>Counts hand-offs and returns, so each one is a distinct event and a repeated one is recognised.</summary>
    public int RoutingVersion { get; init; }
}

/// <summary>Who a conversation goes to next (a bot's hand-off, or agents' close returning it to the bot).</summary>
public sealed record ConversationRouting(ConversationHandler Handler, string? BotId, string? ServiceId);

/// <summary>A file kept in Blob Storage; messages hold only this reference.</summary>
public sealed record AttachmentRef(string FileName, string ContentType, long Size, string BlobName);

/// <summary>
/// E-mail specifics of a message: its Message-ID and the ids it answers, so replies thread, and where its raw
/// MIME is kept.
/// </summary>
public sealed record MailHeaders(string? MessageId, string? InReplyTo, IReadOnlyList<string> References, string? From, IReadOnlyList<string> To, string? RawMimeBlob);

public sealed record Message(
    string Id,
    string CompanyId,
    string ChannelId,
    string ConversationId,
    MessageDirection Direction,
    string? ExternalId,
    string? Text,
    string? Html,
    string? Subject,
    IReadOnlyList<AttachmentRef> Attachments,
    IReadOnlyDictionary<string, string>? Metadata,
    MailHeaders? Mail,
    MessageStatus Status,
    string? Error,
    DateTimeOffset CreatedAt,
    MessageDelivery? Delivery = null)
{
    /// <summary>The provider's id of a sent message (a WhatsApp wamid, an Instagram message id), which its status events name.</summary>
    public string? ProviderMessageId { get; init; }

    /// <summary>
    /// The attempt holding the send claim had begun handing the message to its provider (<see cref="IConversationStore.MarkHandOverAsync"/>);
    /// only transports that mark it read it.
    /// </summary>
    public bool HandOverStarted { get; init; }

    /// <summary>A new agent's message, queued and not stored yet: its id is fresh, so a send staged before storing it can name it.</summary>
    internal static Message NewOutbound(string companyId, string channelId, string conversationId, string? text, string? html, IReadOnlyList<AttachmentRef> attachments,
        IReadOnlyDictionary<string, string>? metadata, DateTimeOffset now) =>
        new(Storage.Ids.New("msg"), companyId, channelId, conversationId, MessageDirection.Outbound, null,
            ConversationLimits.TruncateBody(text), ConversationLimits.TruncateBody(html), null, attachments, metadata, null, MessageStatus.Queued, null, now);
}

/// <summary>
/// What the provider says became of an outbound message after it took it (WhatsApp's statuses). The values are in
/// rank order: a status only replaces a lower one, so a late <c>delivered</c> never undoes <c>read</c>, and evidence
/// of delivery outranks a <c>failed</c>.
/// </summary>
public enum MessageDeliveryStatus
{
    Sent = 1,
    Failed = 2,
    Delivered = 3,
    Read = 4,
}

/// <summary>A delivery status; <c>failed</c> keeps the provider's error code and title.</summary>
public sealed record MessageDelivery(MessageDeliveryStatus Status, int? ErrorCode = null, string? ErrorTitle = null)
{
    /// <summary>Whether <paramref name="next"/> moves a message that is at <paramref name="current"/> forward.</summary>
    public static bool Advances(MessageDelivery? current, MessageDelivery next) => current is null || next.Status > current.Status;
}
