using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// Sends on a <c>whatsapp</c> channel through the WhatsApp Cloud API: <c>POST {graph}/{phoneNumberId}/messages</c> to
/// the contact's WhatsApp id, a template as stored by <see cref="WhatsAppTemplates"/>, else the text, and each
/// attachment uploaded first (<c>POST {graph}/{phoneNumberId}/media</c>) and sent by its media id, the text riding as
/// the first one's caption where WhatsApp allows one. Free-form messages only within the 24-hour window, checked
/// when the agent sends and again here, as the queue may run later. An interrupted send keeps the default answer
/// (unknown, failed visibly): Graph has no look-up by a client id, so a message that may have gone out is not sent twice.
/// </summary>
internal sealed class WhatsAppOutboundTransport(MetaGraphClient graph, MetaSends sends, AttachmentStore attachments, TimeProvider clock) : IOutboundTransport
{
    private const int CaptionCharacters = 1024;

    public string ChannelType => ChannelTypes.WhatsApp;

    public SendRefusal? CheckSend(Channel channel, Conversation conversation, bool hasAttachments) =>
        MetaWindows.IsOpen(conversation, clock.GetUtcNow(), MetaWindows.Standard) ? null : MetaWindows.WhatsAppClosed;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        if (channel.GetString("provider") != "meta" || channel.GetString("phoneNumberId") is not { } phoneNumberId)
        {
            return new SendResult(SendOutcome.Permanent, "Only WhatsApp channels on Meta's Cloud API (provider \"meta\") send messages yet.");
        }

        var template = WhatsAppTemplates.Of(message);
        if (template is null && CheckSend(channel, conversation, message.Attachments.Count > 0) is { } closed)
        {
            return new SendResult(SendOutcome.Permanent, closed.Detail);
        }

        // The number as Meta named it (the contact key may have gained Brazil's ninth digit); digits only, as Meta's examples.
        var to = new string((conversation.Contact.Phone ?? conversation.Contact.ExternalId).Where(char.IsAsciiDigit).ToArray());
        return await sends.RunAsync(channel, conversation, message, async (token, accepted) =>
        {
            if (template is not null)
            {
                accepted.Add(await PostAsync(phoneNumberId, to, "template", template, token, cancellationToken));
                return;
            }

            var text = message.Text;
            if (!string.IsNullOrWhiteSpace(text) && (message.Attachments.Count == 0 || !TakesCaption(MediaType(message.Attachments[0])) || text.Length > CaptionCharacters))
            {
                accepted.Add(await PostAsync(phoneNumberId, to, "text", new JsonObject { ["preview_url"] = false, ["body"] = text }, token, cancellationToken));
                text = null;
            }

            foreach (var attachment in message.Attachments)
            {
                var type = MediaType(attachment);
                var media = new JsonObject { ["id"] = await UploadAsync(phoneNumberId, attachment, token, cancellationToken) };
                if (type == "document")
                {
                    media["filename"] = attachment.FileName;
                }

                if (!string.IsNullOrWhiteSpace(text))
                {
                    media["caption"] = text;
                    text = null;
                }

                accepted.Add(await PostAsync(phoneNumberId, to, type, media, token, cancellationToken));
            }
        }, cancellationToken);
    }

    private async Task<string> PostAsync(string phoneNumberId, string to, string type, JsonNode content, string token, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["messaging_product"] = "whatsapp",
            ["recipient_type"] = "individual",
            ["to"] = to,
            ["type"] = type,
            [type] = content,
        };
        var answer = await graph.PostJsonAsync($"{phoneNumberId}/messages", body, token, cancellationToken);
        return AcceptedId(answer["messages"]?[0]?["id"]);
    }

    private async Task<string> UploadAsync(string phoneNumberId, AttachmentRef attachment, string token, CancellationToken cancellationToken)
    {
        var bytes = await attachments.DownloadAsync(attachment, cancellationToken)
            ?? throw new MetaApiException(System.Net.HttpStatusCode.Gone, 0, null, $"The attachment {attachment.FileName} is no longer stored.", null);
        var file = new ByteArrayContent(bytes.ToArray());
        file.Headers.ContentType = MediaTypeHeaderValue.TryParse(attachment.ContentType, out var type) ? type : new MediaTypeHeaderValue("application/octet-stream");
        using var form = new MultipartFormDataContent
        {
            { new StringContent("whatsapp"), "messaging_product" },
            { new StringContent(attachment.ContentType), "type" },
            { file, "file", attachment.FileName },
        };
        var answer = await graph.PostAsync($"{phoneNumberId}/media", form, token, cancellationToken);
        return AcceptedId(answer["id"]);
    }

    private static string AcceptedId(JsonNode? id) =>
        id is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0
            ? s
            : throw new MetaApiException(System.Net.HttpStatusCode.OK, 0, null, "Meta accepted the request without giving its id.", null);

    /// <summary>The WhatsApp message type for a file: what WhatsApp plays or shows inline, else a document.</summary>
    internal static string MediaType(AttachmentRef attachment) => attachment.ContentType.ToLowerInvariant() switch
    {
        "image/jpeg" or "image/png" => "image",
        "video/mp4" or "video/3gpp" => "video",
        "audio/aac" or "audio/amr" or "audio/mpeg" or "audio/mp4" or "audio/ogg" => "audio",
        _ => "document",
    };

    private static bool TakesCaption(string type) => type is "image" or "video" or "document";
}
