using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;
using Omni.Webhooks;

namespace Omni.OmniChannel;

/// <summary>
/// The omni channel's transport: an outbound message becomes a <c>message.created</c> event for the integrator.
/// It is "sent" once the delivery is durably stored; the delivery's own attempts and retries follow from there. An
/// agent's reply stages the delivery, so it never waits in the outbound queue (<see cref="IStagedOutboundTransport"/>);
/// a message that reaches the outbound queue anyway (a channel whose webhook is disabled) is published from there.
/// </summary>
internal sealed class OmniOutboundTransport(IWebhookPublisher publisher) : IStagedOutboundTransport
{
    public string ChannelType => ChannelTypes.Omni;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        var deliveryId = await publisher.PublishAsync(channel, WebhookEventTypes.MessageCreated, DataOf(channel, conversation, message), message.Id, cancellationToken);
        return deliveryId is null
            ? new SendResult(SendOutcome.Permanent, channel.WebhookDisabledAt is not null
                ? "The channel's webhook is disabled since its endpoint answered 410 Gone; save the channel's settings to enable it."
                : "The channel has no webhook URL.")
            : new SendResult(SendOutcome.Sent);
    }

    /// <summary>Publishing again is safe: the delivery is keyed by the message id, so a crashed attempt is re-driven.</summary>
    public Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        Task.FromResult<SendResult?>(null);

    public async Task<StagedSend?> StageAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        await publisher.StageAsync(channel, WebhookEventTypes.MessageCreated, DataOf(channel, conversation, message), message.Id, cancellationToken) is { } staged
            ? new StagedWebhook(staged)
            : null;

    public Task HandOnAsync(StagedSend send, CancellationToken cancellationToken = default) => publisher.QueueAsync(Delivery(send), cancellationToken);

    public Task DiscardAsync(StagedSend send, CancellationToken cancellationToken = default) => publisher.DiscardAsync(Delivery(send), cancellationToken);

    private static StagedDelivery Delivery(StagedSend send) =>
        send is StagedWebhook webhook ? webhook.Delivery : throw new ArgumentException($"Not a send this transport staged: {send.GetType().Name}.", nameof(send));

    private static JsonObject DataOf(Channel channel, Conversation conversation, Message message)
    {
        return new JsonObject
        {
            ["messageId"] = message.Id,
            ["conversationId"] = conversation.Id,
            ["channelId"] = channel.Id,
            ["direction"] = "outbound",
            ["text"] = message.Text,
            ["contact"] = new JsonObject { ["externalId"] = conversation.Contact.ExternalId },
            ["attachments"] = WebhookEventData.Attachments(message.Attachments),
        };
    }

    private sealed record StagedWebhook(StagedDelivery Delivery) : StagedSend;
}
