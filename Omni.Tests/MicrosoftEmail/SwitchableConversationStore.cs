using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Storage;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>The app's real conversation store, made to fail on demand as if Table Storage were down.</summary>
public sealed class SwitchableConversationStore(IConversationStore inner) : IConversationStore
{
    public bool Failing { get; set; }

    /// <summary>Recording a message as sent fails, as if storage went down right after the transport delivered it.</summary>
    public bool FailingSentWrites { get; set; }

    /// <summary>Messages this picks fail every time, as a message no code path can store would (a fault of its own, not storage's).</summary>
    public Func<InboundMessage, bool>? Poisoned { get; set; }

    /// <summary>Wraps the app's registered store; the test finds it as the app's <see cref="IConversationStore"/>.</summary>
    public static void Install(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IConversationStore));
        services.Remove(registered);
        services.AddSingleton<IConversationStore>(sp => new SwitchableConversationStore((IConversationStore)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)));
    }

    public Task<AppendResult> AppendInboundAsync(InboundMessage message, CancellationToken cancellationToken = default) =>
        Failing ? throw new Azure.RequestFailedException(503, "Storage is down (test).")
        : Poisoned?.Invoke(message) == true ? throw new InvalidOperationException("This message cannot be stored (test).")
        : inner.AppendInboundAsync(message, cancellationToken);

    // Poisoned messages end the batch before them, so the one-by-one append fails them on their own.
    public Task<IReadOnlyList<AppendResult>> AppendInboundBatchAsync(IReadOnlyList<InboundMessage> messages, InboundRouteCache routes, CancellationToken cancellationToken = default) =>
        Failing ? throw new Azure.RequestFailedException(503, "Storage is down (test).")
        : inner.AppendInboundBatchAsync(messages.TakeWhile(m => Poisoned?.Invoke(m) != true).ToList(), routes, cancellationToken);

    public Task<Message> AppendOutboundAsync(Conversation conversation, string? text, string? html, IReadOnlyList<AttachmentRef> attachments, CancellationToken cancellationToken = default) =>
        inner.AppendOutboundAsync(conversation, text, html, attachments, cancellationToken);

    public Task<StagedAppendOutcome> AppendStagedAsync(Message message, CancellationToken cancellationToken = default) =>
        inner.AppendStagedAsync(message, cancellationToken);

    public Task<Conversation?> GetConversationAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        inner.GetConversationAsync(companyId, conversationId, cancellationToken);

    public Task<Message?> GetMessageAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        inner.GetMessageAsync(companyId, conversationId, messageId, cancellationToken);

    public Task<Message?> FindInboundAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default) =>
        inner.FindInboundAsync(companyId, channelId, externalId, cancellationToken);

    public Task<PagedResult<Message>> ListMessagesAsync(string companyId, string conversationId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        inner.ListMessagesAsync(companyId, conversationId, limit, continuationToken, cancellationToken);

    public Task SetStatusAsync(string companyId, string conversationId, string messageId, MessageStatus status, string? error, MailHeaders? mail = null, string? providerMessageId = null, CancellationToken cancellationToken = default) =>
        FailingSentWrites && status == MessageStatus.Sent ? throw new Azure.RequestFailedException(503, "Storage is down (test).") : inner.SetStatusAsync(companyId, conversationId, messageId, status, error, mail, providerMessageId, cancellationToken);

    public Task<Message> AppendToContactAsync(string companyId, string channelId, ContactInfo contact, string? text, IReadOnlyDictionary<string, string> metadata, bool openConversation, CancellationToken cancellationToken = default) =>
        inner.AppendToContactAsync(companyId, channelId, contact, text, metadata, openConversation, cancellationToken);

    public Task<bool> SetDeliveryAsync(string companyId, string conversationId, string messageId, MessageDelivery delivery, CancellationToken cancellationToken = default) =>
        inner.SetDeliveryAsync(companyId, conversationId, messageId, delivery, cancellationToken);

    public Task<SendClaim> ClaimSendAsync(string companyId, string conversationId, string messageId, int attempt, TimeSpan claimTimeout, CancellationToken cancellationToken = default) =>
        inner.ClaimSendAsync(companyId, conversationId, messageId, attempt, claimTimeout, cancellationToken);

    public Task ReleaseSendAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        inner.ReleaseSendAsync(companyId, conversationId, messageId, cancellationToken);

    public Task MarkHandOverAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default) =>
        inner.MarkHandOverAsync(companyId, conversationId, messageId, cancellationToken);

    public Task<MailThread?> GetMailThreadAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        inner.GetMailThreadAsync(companyId, conversationId, cancellationToken);

    public Task ReleaseAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default) =>
        inner.ReleaseAsync(companyId, channelId, externalId, cancellationToken);

    public Task<Reservation> ReserveAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken = default) =>
        inner.ReserveAsync(companyId, channelId, externalId, bodyHash, cancellationToken);

    public Task<PagedResult<Conversation>> ListConversationsAsync(string companyId, ConversationFilter filter, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        inner.ListConversationsAsync(companyId, filter, limit, continuationToken, cancellationToken);

    public Task<Conversation?> RouteAsync(string companyId, string conversationId, int expectedVersion, ConversationRouting routing, CancellationToken cancellationToken = default) =>
        inner.RouteAsync(companyId, conversationId, expectedVersion, routing, cancellationToken);

    public Task<Conversation?> CloseAsync(string companyId, string conversationId, CancellationToken cancellationToken = default) =>
        inner.CloseAsync(companyId, conversationId, cancellationToken);

    public Task<Conversation?> ExpireAsync(string companyId, string conversationId, DateTimeOffset idleSince, CancellationToken cancellationToken = default) =>
        inner.ExpireAsync(companyId, conversationId, idleSince, cancellationToken);

    public Task<PagedResult<Message>> ListChannelMessagesAsync(string companyId, string channelId, MessageDirection? direction, DateTimeOffset? since, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        inner.ListChannelMessagesAsync(companyId, channelId, direction, since, limit, continuationToken, cancellationToken);
}
