using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Webhooks;

namespace Omni.Conversations;

/// <summary>
/// Hands an outbox item on, right after its write and again from <see cref="OutboxSweep"/>: a send goes to the
/// outbound queue (the sender leaves a message already sent or failed alone), a close publishes
/// <c>conversation.closed</c> (the publisher keys it by conversation, so a repeat keeps one delivery). Then the item is
/// done. Handing on twice is therefore harmless; never handing on is what the outbox prevents.
/// </summary>
internal sealed partial class OutboxHandOff(
    ConversationOutbox outbox,
    IConversationStore store,
    IChannelStore channels,
    OutboundQueue queue,
    IWebhookPublisher publisher,
    BotReturns bots,
    ILogger<OutboxHandOff> logger)
{
    public async Task HandOnAsync(OutboxItem item, CancellationToken cancellationToken = default)
    {
        if (item.Kind == OutboxKind.Send)
        {
            await queue.EnqueueAsync(new OutboundWork(item.CompanyId, item.ConversationId, item.MessageId!), cancellationToken: cancellationToken);
        }
        else if (await store.GetConversationAsync(item.CompanyId, item.ConversationId, cancellationToken) is { } closed)
        {
            await PublishClosedAsync(closed, cancellationToken);
        }

        await outbox.CompleteAsync(item, cancellationToken);
    }

    /// <summary>Hands on now; a failure is logged and left to the sweep, since the item is stored with the write.</summary>
    public async Task TryHandOnAsync(OutboxItem item, CancellationToken cancellationToken = default)
    {
        try
        {
            await HandOnAsync(item, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogDeferred(ex, item.Kind, item.Id);
        }
    }

    /// <summary>Publishes <c>conversation.closed</c> when the conversation's channel is an omni channel, and to the bot that handles it.</summary>
    public async Task PublishClosedAsync(Conversation closed, CancellationToken cancellationToken = default)
    {
        var data = new JsonObject
        {
            ["conversationId"] = closed.Id,
            ["channelId"] = closed.ChannelId,
            ["externalId"] = closed.ExternalId,
            ["contact"] = new JsonObject { ["externalId"] = closed.Contact.ExternalId },
            ["closedAt"] = closed.ClosedAt,
            ["reason"] = closed.CloseReason?.ToString().ToLowerInvariant(),
        };
        await bots.PublishClosedAsync(closed, data, cancellationToken);
        if (await channels.GetAsync(closed.CompanyId, closed.ChannelId, cancellationToken: cancellationToken) is { Type: ChannelTypes.Omni } channel)
        {
            await publisher.PublishAsync(channel, WebhookEventTypes.ConversationClosed, data, cancellationToken: cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand on the {Kind} of {ItemId} now; the outbox sweep will")]
    private partial void LogDeferred(Exception exception, OutboxKind kind, string itemId);
}
