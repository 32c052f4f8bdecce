using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Conversations;

/// <summary>
/// Conversations and messages in one table, partitioned by company (layout in <see cref="ConversationRows"/>). Each
/// job has its own part: reads and listings, inbound appends, in-flight reservations, an agent's messages, closing.
/// </summary>
internal sealed class TableConversationStore : IConversationStore
{
    private readonly ConversationReads _reads;
    private readonly InboundAppends _inbound;
    private readonly InboundBatches _batches;
    private readonly InboundReservations _reservations;
    private readonly OutboundWrites _outbound;
    private readonly ConversationCloses _closes;
    private readonly OutboundClaims _claims;
    private readonly MailThreads _threads;
    private readonly ConversationRoutes _routes;

    public TableConversationStore(TableServiceClient tables, TimeProvider clock, IOptions<ConversationOptions> options, ConversationOutbox outbox)
    {
        var table = tables.GetTableClient(ConversationRows.Table);
        _reads = new ConversationReads(table);
        _inbound = new InboundAppends(table, _reads, clock);
        _batches = new InboundBatches(table, clock);
        _reservations = new InboundReservations(table, _reads, clock, options);
        _outbound = new OutboundWrites(table, _reads, outbox, clock);
        _closes = new ConversationCloses(table, _reads, outbox, clock);
        _claims = new OutboundClaims(table, clock);
        _threads = new MailThreads(table, _reads);
        _routes = new ConversationRoutes(table, _reads, clock);
    }

    public Task<AppendResult> AppendInboundAsync(InboundMessage message, CancellationToken cancellationToken = default) =>
        _inbound.AppendAsync(message, cancellationToken);

    public Task<IReadOnlyList<AppendResult>> AppendInboundBatchAsync(IReadOnlyList<InboundMessage> messages, InboundRouteCache routes, CancellationToken cancellationToken = default) =>
        _batches.AppendAsync(messages, routes, cancellationToken);

    public Task<Reservation> ReserveAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken = default) =>
        _reservations.ReserveAsync(companyId, channelId, externalId, bodyHash, cancellationToken);

    public Task ReleaseAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default) =>
        _reservations.ReleaseAsync(companyId, channelId, externalId, cancellationToken);

    public Task<Message> AppendOutboundAsync(Conversation conversation, string? text, string? html, IReadOnlyList<AttachmentRef> attachments, CancellationToken cancellationToken = default) =>
        _outbound.AppendAsync(conversation, text, html, attachments, cancellationToken);

    public Task<StagedAppendOutcome> AppendStagedAsync(Message message, CancellationToken cancellationToken = default) =>
        _outbound.AppendStagedAsync(message, cancellationToken);

    public Task<Message> AppendToContactAsync(string companyId, string channelId, ContactInfo contact, string? text, IReadOnlyDictionary<string, string> metadata, bool openConversation, CancellationToken cancellationToken = default) =>
        _outbound.AppendToContactAsync(companyId, channelId, contact, text, metadata, openConversation, cancellationToken);

    public Task SetStatusAsync(string companyId, string conversationId, string messageId, MessageStatus status, string? error, MailHeaders? mail = null, string? providerMessageId = null, CancellationToken cancellationToken = default) =>
        _outbound.SetStatusAsync(companyId, conversationId, messageId, status, error, mail, providerMessageId, cancellationToken);

    public Task<bool> SetDeliveryAsync(string companyId, string conversationId, string messageId, MessageDelivery delivery, CancellationToken cancellationToken = default) =>
        _outbound.SetDeliveryAsync(companyId, conversationId, messageId, delivery, cancellationToken);

    public Task<SendClaim> ClaimSendAsync(string companyId, string conversationId, string messageId, int attempt, TimeSpan claimTimeout, CancellationToken cancellationToken = default) =>
        _claims.ClaimAsync(companyId, conversationId, messageId, attempt, claimTimeout, cancellationToken);

    public Task ReleaseSendAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        _claims.ReleaseAsync(companyId, conversationId, messageId, cancellationToken);

    public Task MarkHandOverAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        _claims.MarkHandOverAsync(companyId, conversationId, messageId, cancellationToken);

    public Task<MailThread?> GetMailThreadAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        _threads.GetAsync(companyId, conversationId, cancellationToken);

    public Task<Conversation?> RouteAsync(string companyId, string conversationId, int expectedVersion, ConversationRouting routing, CancellationToken cancellationToken = default) =>
        _routes.RouteAsync(companyId, conversationId, expectedVersion, routing, cancellationToken);

    public Task<Conversation?> CloseAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        _closes.CloseAsync(companyId, conversationId, ConversationCloseReason.Agent, cancellationToken: cancellationToken);

    public Task<Conversation?> ExpireAsync(string companyId, string conversationId, DateTimeOffset idleSince, CancellationToken cancellationToken = default) =>
        _closes.CloseAsync(companyId, conversationId, ConversationCloseReason.Expired, idleSince, cancellationToken);

    public Task<Conversation?> GetConversationAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        _reads.GetConversationAsync(companyId, conversationId, cancellationToken);

    public Task<Message?> GetMessageAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        _reads.GetMessageAsync(companyId, conversationId, messageId, cancellationToken);

    public async Task<Message?> FindInboundAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default) =>
        (await _reads.FindExistingAsync(companyId, channelId, externalId, null, cancellationToken))?.Message;

    public Task<PagedResult<Message>> ListMessagesAsync(string companyId, string conversationId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        _reads.ListMessagesAsync(companyId, conversationId, limit, continuationToken, cancellationToken);

    public Task<PagedResult<Conversation>> ListConversationsAsync(string companyId, ConversationFilter filter, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        _reads.ListConversationsAsync(companyId, filter, limit, continuationToken, cancellationToken);

    public Task<PagedResult<Message>> ListChannelMessagesAsync(string companyId, string channelId, MessageDirection? direction, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        _reads.ListChannelMessagesAsync(companyId, channelId, direction, since, limit, continuationToken, cancellationToken);
}
