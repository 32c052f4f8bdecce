using Omni.Conversations;
using Omni.Tenancy;

namespace Omni.Bots;

/// <summary>What a bot's hand-off came to.</summary>
internal enum HandoffOutcome
{
    HandedOff,

    /// <summary>No such conversation, or not one this bot handles (404: a bot never learns of others).</summary>
    NotFound,

    /// <summary>No <c>serviceId</c>, or not a service of the company (400).</summary>
    NoSuchService,

    /// <summary>Closed, or handed on by someone else meanwhile (409).</summary>
    Conflict,
}

internal sealed record HandoffResult(HandoffOutcome Outcome, Conversation? Conversation = null);

/// <summary>
/// The bot API (contract section 10): a bot key acts only on the conversations its bot handles. A reply goes out as an
/// agent's does (stored, queued, sent by the channel's transport); a hand-off gives the conversation to a service's agents.
/// </summary>
internal sealed class BotConversations(IConversationStore conversations, AgentMessages messages, ICompanyStore companies)
{
    public async Task<SendMessageResult> SendAsync(string companyId, string botId, string conversationId, string? text, IReadOnlyList<AttachmentUpload?>? uploads,
        CancellationToken cancellationToken = default) =>
        await HandledAsync(companyId, botId, conversationId, cancellationToken) is null
            ? new SendMessageResult(SendMessageOutcome.NotFound)
            : await messages.SendAsync(companyId, conversationId, text, uploads, cancellationToken);

    public async Task<HandoffResult> HandOffAsync(string companyId, string botId, string conversationId, string? serviceId, CancellationToken cancellationToken = default)
    {
        if (await HandledAsync(companyId, botId, conversationId, cancellationToken) is not { } conversation)
        {
            return new(HandoffOutcome.NotFound);
        }

        if (string.IsNullOrWhiteSpace(serviceId) || await companies.GetServiceAsync(companyId, serviceId, cancellationToken) is null)
        {
            return new(HandoffOutcome.NoSuchService);
        }

        if (conversation.Status != ConversationStatus.Open)
        {
            return new(HandoffOutcome.Conflict, conversation);
        }

        var routed = await conversations.RouteAsync(companyId, conversationId, conversation.RoutingVersion,
            new ConversationRouting(ConversationHandler.Agents, botId, serviceId), cancellationToken);
        return routed is { Handler: ConversationHandler.Agents } && routed.RoutingVersion == conversation.RoutingVersion + 1 && routed.ServiceId == serviceId
            ? new(HandoffOutcome.HandedOff, routed)
            : new(HandoffOutcome.Conflict, routed);
    }

    /// <summary>The conversation when this bot handles it now; null for any other, so the answer is the same as for none.</summary>
    private async Task<Conversation?> HandledAsync(string companyId, string botId, string conversationId, CancellationToken cancellationToken) =>
        await conversations.GetConversationAsync(companyId, conversationId, cancellationToken) is { Handler: ConversationHandler.Bot } conversation && conversation.BotId == botId
            ? conversation
            : null;
}
