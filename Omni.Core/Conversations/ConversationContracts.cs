using Omni.Channels;
using Omni.Storage;

namespace Omni.Conversations;

/// <summary>
/// A message arriving from a customer, on any channel. <see cref="ExternalId"/> is its idempotency key within
/// the channel (receive_hook's externalId, an e-mail's Message-ID, a Graph message id): the same key never
/// becomes two messages. <c>ConversationKeys</c> may name an existing conversation on this channel and are tried
/// in order before the contact's open conversation (receive_hook's conversationExternalId; an e-mail's
/// In-Reply-To and References ids). <c>BodyHash</c> fingerprints the request for idempotency: the same key with
/// another body is a mismatch.
/// </summary>
public sealed record InboundMessage(
    string CompanyId,
    string ChannelId,
    string ExternalId,
    ContactInfo Contact,
    string? Text,
    string? Html = null,
    string? Subject = null,
    IReadOnlyList<AttachmentRef>? Attachments = null,
    IReadOnlyDictionary<string, string>? Metadata = null,
    MailHeaders? Mail = null,
    IReadOnlyList<string>? ConversationKeys = null,
    string? BodyHash = null,
    bool Reserved = false)
{
    /// <summary>The bot a conversation this message opens starts with (a WhatsApp channel with <c>returnToBot</c>); null: agents.</summary>
    public string? OpensWithBotId { get; init; }
}

public enum AppendOutcome
{
    /// <summary>Stored now.</summary>
    Created,

    /// <summary>The same external id with the same body was stored before: <see cref="AppendResult.Message"/> is the first one.</summary>
    Duplicate,

    /// <summary>The same external id was stored before with a different body.</summary>
    Mismatch,
}

public sealed record AppendResult(AppendOutcome Outcome, Message Message)
{
    /// <summary>Stored now and opened its conversation (a channel that schedules something per conversation, as WhatsApp's expiry, does it then).</summary>
    public bool OpenedConversation { get; init; }
}

public enum ReservationOutcome
{
    /// <summary>The key is now marked in flight for this caller: do the slow work, then append with <c>Reserved: true</c>.</summary>
    Reserved,

    /// <summary>Another request holds the key and has not finished (receive_hook's 409).</summary>
    InFlight,

    /// <summary>The key was stored before: <see cref="Reservation.Existing"/> says whether as a duplicate or a mismatch.</summary>
    Completed,
}

public sealed record Reservation(ReservationOutcome Outcome, AppendResult? Existing = null);

/// <summary>Filters of a conversation listing; null means any.</summary>
public sealed record ConversationFilter(string? ChannelId = null, string? ContactExternalId = null, ConversationStatus? Status = null);

/// <summary>Conversations and their history, both directions; every call keyed by the company (the partition).</summary>
public interface IConversationStore
{
    /// <summary>Durably stores an inbound message (idempotent on channel + external id) in the conversation it belongs to, opening one if needed.</summary>
    Task<AppendResult> AppendInboundAsync(InboundMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores new inbound messages of one company, in order, in as few transactions as the layout allows, routing
    /// them through <paramref name="routes"/> (one per poll). Returns the results of the leading messages it stored,
    /// all durable; from the first one it could not store in a transaction (a duplicate, a routing row changed
    /// meanwhile, a row Table Storage refuses) the caller appends the rest one by one with <see cref="AppendInboundAsync"/>.
    /// </summary>
    Task<IReadOnlyList<AppendResult>> AppendInboundBatchAsync(IReadOnlyList<InboundMessage> messages, InboundRouteCache routes, CancellationToken cancellationToken = default);

    /// <summary>Stores an agent's message on a conversation with status <see cref="MessageStatus.Queued"/>; the caller then enqueues it for its transport.</summary>
    Task<Message> AppendOutboundAsync(Conversation conversation, string? text, string? html, IReadOnlyList<AttachmentRef> attachments, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores an agent's message whose send is already staged (<see cref="IStagedOutboundTransport"/>), as
    /// <see cref="MessageStatus.Sent"/> and with no outbox item: the staged send is what hands it on. It is stored only
    /// while the conversation is open, checked by the transaction itself, so the caller may pass a conversation it
    /// read earlier. Anything but <see cref="StagedAppendOutcome.Stored"/> means nothing was stored.
    /// </summary>
    Task<StagedAppendOutcome> AppendStagedAsync(Message message, CancellationToken cancellationToken = default);

    Task<Conversation?> GetConversationAsync(string companyId, string conversationId, CancellationToken cancellationToken = default);

    Task<Message?> GetMessageAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default);

    /// <summary>The inbound message stored under this external id on the channel (one point read and one get), or null when there is none.</summary>
    Task<Message?> FindInboundAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default);

    /// <summary>A conversation's history, both directions, oldest first.</summary>
    Task<PagedResult<Message>> ListMessagesAsync(string companyId, string conversationId, int limit, string? continuationToken, CancellationToken cancellationToken = default);

    /// <summary>
    /// After a transport ran: <see cref="MessageStatus.Sent"/>, or <see cref="MessageStatus.Failed"/> with a reason fit to show
    /// (<see cref="MessageStatus.Queued"/> with an error records a failed attempt that will be retried). A
    /// <see cref="MailHeaders.MessageId"/> given here becomes a conversation key, so a reply that names it joins the conversation.
    /// </summary>
    /// <param name="providerMessageId">The provider's id of the sent message (<see cref="Message.ProviderMessageId"/>), kept when given.</param>
    Task SetStatusAsync(string companyId, string conversationId, string messageId, MessageStatus status, string? error, MailHeaders? mail = null, string? providerMessageId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a message the app starts towards a contact on a channel (a WhatsApp template), queued with its outbox item
    /// as an agent's message is: in the contact's open conversation, opening one if none, when <paramref name="openConversation"/>;
    /// otherwise in a <see cref="Conversation.IsSendRecord"/> that routes nothing, so the contact's reply opens a conversation then.
    /// </summary>
    Task<Message> AppendToContactAsync(string companyId, string channelId, ContactInfo contact, string? text, IReadOnlyDictionary<string, string> metadata, bool openConversation, CancellationToken cancellationToken = default);

    /// <summary>
    /// What the provider reported after taking an outbound message (delivered, read, failed with its code). The status
    /// never moves backwards; false when this one did not move it, or the message is missing or not outbound.
    /// </summary>
    Task<bool> SetDeliveryAsync(string companyId, string conversationId, string messageId, MessageDelivery delivery, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims an outbound message for one send attempt before its transport is called, so one message is handed to a
    /// transport by one worker at a time (see <see cref="SendClaim"/>). A claim younger than <paramref name="claimTimeout"/>
    /// is another worker's send in progress; an older one was left by a crash mid-send and is taken over.
    /// </summary>
    Task<SendClaim> ClaimSendAsync(string companyId, string conversationId, string messageId, int attempt, TimeSpan claimTimeout, CancellationToken cancellationToken = default);

    /// <summary>Gives up a claim after the transport said the message did not go out, so the retry sends it without suspicion.</summary>
    Task ReleaseSendAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records, under the current claim, that its transport is about to hand the message to the provider (SMTP's DATA):
    /// a crash before this point left nothing with the provider, so <see cref="Message.HandOverStarted"/> stays false
    /// and the message may be sent again. The next claim clears it.
    /// </summary>
    Task MarkHandOverAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default);

    /// <summary>What an e-mail reply threads to: the conversation's last inbound Message-ID and its References (null: no inbound mail).</summary>
    Task<MailThread?> GetMailThreadAsync(string companyId, string conversationId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks (channel, external id) in flight before slow work, so a concurrent duplicate is told to wait (409)
    /// instead of repeating it. A marker older than the in-flight timeout (a crashed request) is taken over.
    /// </summary>
    Task<Reservation> ReserveAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken = default);

    /// <summary>Gives a reservation up after the slow work failed, so a retry need not wait for the in-flight timeout.</summary>
    Task ReleaseAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default);

    /// <summary>A company's conversations, newest first.</summary>
    Task<PagedResult<Conversation>> ListConversationsAsync(string companyId, ConversationFilter filter, int limit, string? continuationToken, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives an open conversation to another handler (a bot's hand-off to a service, agents' close returning it to the
    /// bot) if its <see cref="Conversation.RoutingVersion"/> is still <paramref name="expectedVersion"/>; the version
    /// moves on by one. Returns the conversation as it is now (changed or not); null when it does not exist.
    /// </summary>
    Task<Conversation?> RouteAsync(string companyId, string conversationId, int expectedVersion, ConversationRouting routing, CancellationToken cancellationToken = default);

    /// <summary>An agent's close (<see cref="ConversationCloseReason.Agent"/>, idempotent); its keys stop routing messages to it, so the contact's next message opens a new one. Null when it does not exist.</summary>
    Task<Conversation?> CloseAsync(string companyId, string conversationId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Closes an open conversation as <see cref="ConversationCloseReason.Expired"/> through the same close, but only when no
    /// inbound message (nor its opening, when none came) is later than <paramref name="idleSince"/>; otherwise it is returned
    /// as it is, still open. Null when it does not exist.
    /// </summary>
    Task<Conversation?> ExpireAsync(string companyId, string conversationId, DateTimeOffset idleSince, CancellationToken cancellationToken = default);

    /// <summary>Every message received and sent on one channel, oldest first, for audit.</summary>
    Task<PagedResult<Message>> ListChannelMessagesAsync(string companyId, string channelId, MessageDirection? direction, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default);
}

/// <summary>What a transport's attempt came to: sent, worth retrying later, or not (visible as failed).</summary>
public enum SendOutcome
{
    Sent,
    Transient,
    Permanent,

    /// <summary>The transport may have delivered it and cannot tell (an SMTP answer lost after DATA): never retried, visible as failed.</summary>
    Unknown,
}

/// <summary>
/// The answer of a transport; <see cref="Mail"/> carries the Message-ID it sent with, so replies to it thread;
/// <see cref="ProviderMessageId"/> the provider's id of what it sent, which the provider's status events name.
/// </summary>
public sealed record SendResult(SendOutcome Outcome, string? Error = null, MailHeaders? Mail = null, TimeSpan? RetryAfter = null, string? ProviderMessageId = null);

/// <summary>Why a provider will not take an agent's message on this conversation now (the agent's 422), in words to show.</summary>
public sealed record SendRefusal(string Title, string Detail);

/// <summary>
/// Sends an outbound message by its channel's transport: the signed webhook (omni), SMTP (email), Graph
/// (microsoft-email). Called from the outbound queue function; one implementation per channel type.
/// </summary>
public interface IOutboundTransport
{
    string ChannelType { get; }

    Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asked before an agent's message is stored: null when the provider takes it on this conversation now, else why
    /// not (WhatsApp's 24-hour customer-service window), so the agent learns it at once instead of from a failed send.
    /// </summary>
    SendRefusal? CheckSend(Channel channel, Conversation conversation, bool hasAttachments) => null;

    /// <summary>As <see cref="CheckSend(Channel, Conversation, bool)"/>, for providers that also limit the text (Mercado Livre's answer lengths).</summary>
    SendRefusal? CheckSend(Channel channel, Conversation conversation, string? text, bool hasAttachments) => CheckSend(channel, conversation, hasAttachments);

    /// <summary>
    /// An earlier attempt claimed the message and never recorded how it ended (a crash mid-send). Says what became of
    /// it: <see cref="SendOutcome.Sent"/> when the transport can see it went out, null when sending again is safe, or
    /// <see cref="SendOutcome.Transient"/> to ask again later. By default a transport cannot tell, and a message that
    /// may have reached the customer is never sent twice blindly.
    /// </summary>
    Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        Task.FromResult<SendResult?>(new SendResult(SendOutcome.Unknown, InterruptedSend.UnknownError));
}

/// <summary>
/// A transport whose send is a durable hand-off inside this app (the omni channel's webhook delivery) rather than a
/// call to a provider. The agent's request stages the send, stores the message as sent and hands the send on, so the
/// message never waits in the outbound queue. A staged send whose message was never stored is never sent: the owner of
/// the staged work checks that the message exists before it sends something that was never handed on.
/// </summary>
/// <remarks>Its <see cref="IOutboundTransport.CheckSend(Channel, Conversation, bool)"/> may be given the conversation as this instance read it earlier.</remarks>
public interface IStagedOutboundTransport : IOutboundTransport
{
    /// <summary>Null when the channel cannot take it now (such as no active webhook): the message then goes the outbound queue's way, which says why.</summary>
    Task<StagedSend?> StageAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default);

    /// <summary>After the message is stored. Throwing loses nothing: what was staged is swept and sent later.</summary>
    Task HandOnAsync(StagedSend send, CancellationToken cancellationToken = default);

    /// <summary>The message could not be stored (its conversation closed meanwhile): nothing is to be sent about it.</summary>
    Task DiscardAsync(StagedSend send, CancellationToken cancellationToken = default);
}

/// <summary>What a <see cref="IStagedOutboundTransport"/> staged; each transport derives its own.</summary>
public abstract record StagedSend;

/// <summary>What became of <see cref="IConversationStore.AppendStagedAsync"/>.</summary>
public enum StagedAppendOutcome
{
    Stored,
    ConversationClosed,
    ConversationMissing,
}

/// <summary>What the claim before a send found.</summary>
public enum ClaimOutcome
{
    /// <summary>The message is this worker's to send now; <see cref="SendClaim.TookOver"/> says whether a crashed attempt had it.</summary>
    Claimed,

    /// <summary>Another worker claimed it and may be sending right now: leave it alone.</summary>
    InFlight,

    /// <summary>Missing, not outbound, or already sent or failed: nothing to do.</summary>
    Finished,
}

/// <param name="Message">The message as read (null when missing).</param>
/// <param name="TookOver">The attempt and claim time of the crashed attempt this claim replaced, or of the worker holding it (<see cref="ClaimOutcome.InFlight"/>).</param>
public sealed record SendClaim(ClaimOutcome Outcome, Message? Message, HeldClaim? TookOver = null);

public sealed record HeldClaim(int Attempt, DateTimeOffset ClaimedAt);

/// <summary>What an e-mail reply threads to, kept on the conversation row as inbound mail arrives.</summary>
public sealed record MailThread(string MessageId, IReadOnlyList<string> References, string? Subject);

public static class InterruptedSend
{
    public const string UnknownError =
        "Delivery is unknown: an earlier attempt was interrupted while handing this message over, so it may or may not have reached the customer. "
        + "Check with the customer (or the mailbox's sent mail) before sending it again.";
}
