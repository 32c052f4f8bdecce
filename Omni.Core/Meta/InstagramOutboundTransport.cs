using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// Sends on an <c>instagram</c> channel through the Messenger Platform: <c>POST {graph}/{pageId}/messages</c> to the
/// contact's Instagram-scoped id, within 24 hours of the customer's last message as a response, and up to 7 days
/// tagged <c>HUMAN_AGENT</c>. Attachments are not sent: Instagram takes them only by a public URL Meta fetches, which
/// the app does not hand out, so an agent's message with one is refused when it is sent.
/// </summary>
internal sealed class InstagramOutboundTransport(MetaGraphClient graph, MetaSends sends, TimeProvider clock) : IOutboundTransport
{
    public static readonly SendRefusal NoAttachments = new("Instagram attachments are not supported",
        "Instagram takes attachments only from a public URL that Meta downloads, and this app does not publish files. Send the text alone.");

    public string ChannelType => ChannelTypes.Instagram;

    public SendRefusal? CheckSend(Channel channel, Conversation conversation, bool hasAttachments) =>
        hasAttachments ? NoAttachments
        : MetaWindows.IsOpen(conversation, clock.GetUtcNow(), MetaWindows.HumanAgent) ? null
        : MetaWindows.InstagramClosed;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        if (channel.GetString("pageId") is not { } pageId)
        {
            return new SendResult(SendOutcome.Permanent, "The channel has no pageId.");
        }

        if (CheckSend(channel, conversation, message.Attachments.Count > 0) is { } refused)
        {
            return new SendResult(SendOutcome.Permanent, refused.Detail);
        }

        var body = new JsonObject
        {
            ["recipient"] = new JsonObject { ["id"] = conversation.Contact.ExternalId },
            ["message"] = new JsonObject { ["text"] = message.Text ?? "" },
        };
        if (MetaWindows.IsOpen(conversation, clock.GetUtcNow(), MetaWindows.Standard))
        {
            body["messaging_type"] = "RESPONSE";
        }
        else
        {
            // Past 24 hours only a human agent's reply may go, and it says so.
            body["messaging_type"] = "MESSAGE_TAG";
            body["tag"] = "HUMAN_AGENT";
        }

        return await sends.RunAsync(channel, conversation, message, async (token, accepted) =>
        {
            var answer = await graph.PostJsonAsync($"{pageId}/messages", body, token, cancellationToken);
            accepted.Add(answer["message_id"] is JsonValue v && v.TryGetValue<string>(out var id) && id.Length > 0
                ? id
                : throw new MetaApiException(System.Net.HttpStatusCode.OK, 0, null, "Meta accepted the message without giving its id.", null));
        }, cancellationToken);
    }
}
