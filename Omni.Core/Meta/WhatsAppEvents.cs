using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// A WhatsApp Cloud API event (<c>entry[].changes[].value</c>): <c>messages[]</c> become inbound messages of the
/// contact <c>from</c>, <c>statuses[]</c> move the delivery status of what the app sent.
/// </summary>
internal sealed partial class WhatsAppEvents(MetaInbound inbound, MetaMessageIndex index, IConversationStore store, ILogger<WhatsAppEvents> logger)
{
    /// <summary>False when some message must be tried again later (its media was not handed over).</summary>
    public async Task<bool> ProcessAsync(Channel channel, JsonNode root, bool lastAttempt, CancellationToken cancellationToken = default)
    {
        var done = true;
        foreach (var value in Values(root))
        {
            // One app may be subscribed for several numbers: an event about another number is not this channel's.
            if (Str(value["metadata"]?["phone_number_id"]) is { } number && number != channel.GetString("phoneNumberId"))
            {
                LogOtherNumber(channel.Id);
                continue;
            }

            var names = (value["contacts"] as JsonArray ?? []).OfType<JsonObject>()
                .Where(c => Str(c["wa_id"]) is not null)
                .GroupBy(c => Str(c["wa_id"])!)
                .ToDictionary(g => g.Key, g => Str(g.First()["profile"]?["name"]));
            foreach (var message in (value["messages"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (WhatsAppMessages.ToDraft(message, names) is { } draft)
                {
                    done &= await inbound.AppendAsync(channel, draft, lastAttempt, cancellationToken);
                }
            }

            foreach (var status in (value["statuses"] as JsonArray ?? []).OfType<JsonObject>())
            {
                await ApplyStatusAsync(channel, status, cancellationToken);
            }
        }

        return done;
    }

    private static IEnumerable<JsonNode> Values(JsonNode root) =>
        (root["entry"] as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(e => (e["changes"] as JsonArray ?? []).OfType<JsonObject>())
            .Select(c => c["value"]).OfType<JsonObject>();

    private async Task ApplyStatusAsync(Channel channel, JsonObject status, CancellationToken cancellationToken)
    {
        if (Str(status["id"]) is not { } wamid || ParseStatus(Str(status["status"])) is not { } state)
        {
            return;
        }

        if (await index.FindAsync(channel.Id, wamid, cancellationToken) is not { } sent || sent.CompanyId != channel.CompanyId)
        {
            LogUnknownStatus(channel.Id, state);
            return;
        }

        var error = (status["errors"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
        var delivery = state == MessageDeliveryStatus.Failed
            ? new MessageDelivery(state, error?["code"] is JsonValue c && c.TryGetValue<int>(out var code) ? code : null, Str(error?["title"]) ?? Str(error?["message"]))
            : new MessageDelivery(state);
        if (!await store.SetDeliveryAsync(sent.CompanyId, sent.ConversationId, sent.MessageId, delivery, cancellationToken))
        {
            LogStatusKept(sent.MessageId, state);
        }
    }

    private static MessageDeliveryStatus? ParseStatus(string? status) => status switch
    {
        "sent" => MessageDeliveryStatus.Sent,
        "delivered" => MessageDeliveryStatus.Delivered,
        "read" => MessageDeliveryStatus.Read,
        "failed" => MessageDeliveryStatus.Failed,
        _ => null,
    };

    internal static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "WhatsApp event on channel {ChannelId} is about another phone number id: ignored")]
    private partial void LogOtherNumber(string channelId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "WhatsApp status {Status} on channel {ChannelId} names a message the app did not send: ignored")]
    private partial void LogUnknownStatus(string channelId, MessageDeliveryStatus status);

    [LoggerMessage(Level = LogLevel.Debug, Message = "WhatsApp status {Status} for message {MessageId} does not move it forward: kept")]
    private partial void LogStatusKept(string messageId, MessageDeliveryStatus status);
}

/// <summary>One entry of WhatsApp's <c>messages[]</c> as the message the agents see: its text, its metadata and its media.</summary>
internal static class WhatsAppMessages
{
    private static readonly string[] MediaTypes = ["image", "audio", "video", "document", "sticker"];

    public static MetaDraft? ToDraft(JsonObject message, IReadOnlyDictionary<string, string?> names)
    {
        if (WhatsAppEvents.Str(message["id"]) is not { Length: > 0 } wamid || WhatsAppEvents.Str(message["from"]) is not { Length: > 0 } from)
        {
            return null;
        }

        var type = WhatsAppEvents.Str(message["type"]) ?? "unknown";
        var metadata = new Dictionary<string, string> { ["type"] = type, ["waId"] = from };
        if (WhatsAppEvents.Str(message["context"]?["id"]) is { } replyTo)
        {
            metadata["replyTo"] = replyTo;
        }

        var contact = new ContactInfo(WhatsAppContacts.Key(from), names.GetValueOrDefault(from), Phone: "+" + from);
        var body = message[type];
        string? text = null;
        var media = new List<MetaMedia>();
        switch (type)
        {
            case "text":
                text = WhatsAppEvents.Str(body?["body"]);
                break;
            case var m when MediaTypes.Contains(m):
                text = WhatsAppEvents.Str(body?["caption"]);
                if (WhatsAppEvents.Str(body?["id"]) is { } mediaId)
                {
                    metadata["mediaId"] = mediaId;
                    media.Add(new MetaMedia(type, MediaId: mediaId, MimeType: WhatsAppEvents.Str(body?["mime_type"]), FileName: WhatsAppEvents.Str(body?["filename"])));
                }

                break;
            case "location":
                text = Location(body, metadata);
                break;
            case "contacts":
                text = Contacts(body as JsonArray);
                metadata["contacts"] = body?.ToJsonString() ?? "[]";
                break;
            case "interactive":
                var reply = body?["button_reply"] ?? body?["list_reply"] ?? body?["nfm_reply"];
                metadata["interactiveType"] = WhatsAppEvents.Str(body?["type"]) ?? "";
                metadata["replyId"] = WhatsAppEvents.Str(reply?["id"]) ?? "";
                text = WhatsAppEvents.Str(reply?["title"]) ?? WhatsAppEvents.Str(reply?["body"]);
                if (WhatsAppEvents.Str(reply?["description"]) is { } description)
                {
                    metadata["replyDescription"] = description;
                }

                break;
            case "button":
                text = WhatsAppEvents.Str(body?["text"]);
                metadata["payload"] = WhatsAppEvents.Str(body?["payload"]) ?? "";
                break;
            case "reaction":
                metadata["reactionTo"] = WhatsAppEvents.Str(body?["message_id"]) ?? "";
                text = WhatsAppEvents.Str(body?["emoji"]) is { Length: > 0 } emoji ? emoji : null;
                metadata["reaction"] = text ?? "removed";
                break;
            default:
                // order, system, unsupported…: kept as Meta sent it, so nothing the customer did is lost.
                metadata["raw"] = message.ToJsonString();
                break;
        }

        return new MetaDraft(wamid, contact, text, metadata, media);
    }

    private static string? Location(JsonNode? body, Dictionary<string, string> metadata)
    {
        var lat = body?["latitude"]?.ToJsonString();
        var lng = body?["longitude"]?.ToJsonString();
        var name = WhatsAppEvents.Str(body?["name"]);
        var address = WhatsAppEvents.Str(body?["address"]);
        metadata["latitude"] = lat ?? "";
        metadata["longitude"] = lng ?? "";
        var lines = new[] { name, address, lat is null || lng is null ? null : $"https://www.google.com/maps?q={lat},{lng}" };
        return string.Join('\n', lines.Where(l => !string.IsNullOrEmpty(l)));
    }

    private static string Contacts(JsonArray? cards) => string.Join('\n', (cards ?? []).OfType<JsonObject>().Select(card =>
    {
        var phones = (card["phones"] as JsonArray ?? []).OfType<JsonObject>().Select(p => WhatsAppEvents.Str(p["phone"])).Where(p => p is not null);
        return string.Join(' ', new[] { WhatsAppEvents.Str(card["name"]?["formatted_name"]) }.Concat(phones).Where(p => !string.IsNullOrEmpty(p)));
    }));
}

/// <summary>Who a WhatsApp contact is, across the forms of one number.</summary>
internal static class WhatsAppContacts
{
    /// <summary>
    /// The contact key of a <c>wa_id</c>: E.164, and for Brazilian mobiles always with the ninth digit. Mobiles there
    /// gained a leading 9 (2012–2016), and WhatsApp still names many accounts by the old 12-digit form
    /// (<c>55 DDD XXXX-XXXX</c>), sometimes one way and sometimes the other: both are one contact.
    /// </summary>
    public static string Key(string waId)
    {
        var digits = new string(waId.Where(char.IsAsciiDigit).ToArray());
        if (digits.Length == 12 && digits.StartsWith("55", StringComparison.Ordinal) && digits[4] is >= '6' and <= '9'
            && WhatsAppSettingsRules.MobileNumber(string.Create(CultureInfo.InvariantCulture, $"+{digits[..4]}9{digits[4..]}")) is { } withNine)
        {
            return withNine;
        }

        return "+" + digits;
    }
}
