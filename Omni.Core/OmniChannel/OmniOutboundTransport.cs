using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;
using Omni.Webhooks;

namespace Omni.OmniChannel;

/// <summary>
/// The omni channel's transport: an outbound message becomes a <c>message.created</c> event for the integrator.
/// It is "sent" once the delivery is durably queued; the delivery's own attempts and retries follow from there.
/// </summary>
internal sealed class OmniOutboundTransport(IWebhookPublisher publisher) : IOutboundTransport
{
    public string ChannelType => ChannelTypes.Omni;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        var attachments = new JsonArray();
        foreach (var a in message.Attachments)
        {
            attachments.Add(new JsonObject { ["fileName"] = a.FileName, ["contentType"] = a.ContentType, ["size"] = a.Size });
        }

        var data = new JsonObject
        {
            ["messageId"] = message.Id,
            ["conversationId"] = conversation.Id,
            ["channelId"] = channel.Id,
            ["direction"] = "outbound",
            ["text"] = message.Text,
            ["contact"] = new JsonObject { ["externalId"] = conversation.Contact.ExternalId },
            ["attachments"] = attachments,
        };

        var deliveryId = await publisher.PublishAsync(channel, WebhookEventTypes.MessageCreated, data, message.Id, cancellationToken);
        return deliveryId is null
            ? new SendResult(SendOutcome.Permanent, channel.WebhookDisabledAt is not null
                ? "The channel's webhook is disabled since its endpoint answered 410 Gone; save the channel's settings to enable it."
                : "The channel has no webhook URL.")
            : new SendResult(SendOutcome.Sent);
    }

    /// <summary>Publishing again is safe: the delivery is keyed by the message id, so a crashed attempt is re-driven.</summary>
    public Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        Task.FromResult<SendResult?>(null);
}
