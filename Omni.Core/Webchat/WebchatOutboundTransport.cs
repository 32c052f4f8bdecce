using System.Globalization;
using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Webchat;

/// <summary>
/// The webchat transport: an agent's reply goes to the visitor's open pages, through this process's event streams
/// (SSE) and, when configured, Azure Web PubSub. The reply is in the visitor's thread either way, so a page that
/// was closed finds it when it comes back.
/// </summary>
internal sealed class WebchatOutboundTransport(WebchatEvents events, WebPubSubClient pubSub) : IOutboundTransport
{
    public string ChannelType => ChannelTypes.Webchat;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        var visitor = WebchatSession.VisitorKeyOf(conversation.CompanyId, conversation.ChannelId, conversation.Contact.ExternalId);
        var shown = WebchatVisitors.ToVisitor(message);
        events.Publish(visitor, shown);
        if (pubSub.Enabled)
        {
            var result = await pubSub.SendToUserAsync(visitor, ToJson(shown), cancellationToken);
            if (!result.Ok)
            {
                return new SendResult(result.RetryAfter is null ? SendOutcome.Permanent : SendOutcome.Transient, result.Error, RetryAfter: result.RetryAfter);
            }
        }

        return new SendResult(SendOutcome.Sent);
    }

    /// <summary>Sending again is safe: pages show each message id once.</summary>
    public Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        Task.FromResult<SendResult?>(null);

    /// <summary>A reply as the widget reads it, on every real-time path alike.</summary>
    public static JsonObject ToJson(VisitorMessage message) => new()
    {
        ["id"] = message.Id,
        ["from"] = message.From,
        ["text"] = message.Text,
        ["createdAt"] = message.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
        ["attachments"] = new JsonArray([.. message.Attachments.Select(a => new JsonObject
        {
            ["fileName"] = a.FileName,
            ["contentType"] = a.ContentType,
            ["size"] = a.Size,
            ["url"] = a.Url,
        })]),
    };
}
