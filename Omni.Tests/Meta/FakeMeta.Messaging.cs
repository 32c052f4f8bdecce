using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Omni.Tests.Meta;

/// <summary>A message the fake Meta accepted: who sent it (phone number id or page id), to whom, its type and body as posted, and the id answered.</summary>
public sealed record FakeSentMessage(string SenderId, string To, string Type, JsonObject Body, string Id);

/// <summary>A file uploaded with <c>POST {phoneNumberId}/media</c>.</summary>
public sealed record FakeUpload(string Id, string PhoneNumberId, string FileName, string ContentType, string Type, byte[] Bytes);

/// <summary>
/// Sending, as the WhatsApp Cloud API and the Instagram Messaging API document it: <c>POST {phoneNumberId}/messages</c>
/// (text, media by id, template), <c>POST {phoneNumberId}/media</c> (multipart upload), <c>POST {pageId}/messages</c>.
/// Request shapes are checked strictly and answered with Graph's error 100 when wrong, as Meta does.
/// </summary>
public sealed partial class FakeMeta
{
    private static readonly string[] WhatsAppTypes = ["text", "image", "document", "audio", "video", "template"];

    public ConcurrentQueue<FakeSentMessage> Sent { get; } = new();

    public ConcurrentDictionary<string, FakeUpload> Uploaded { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<FakeSentMessage> SentBy(string senderId) => [.. Sent.Where(m => m.SenderId == senderId)];

    partial void MapMessagingRoutes()
    {
        Map("POST", "{id}/messages", call => PhoneNumbers.ContainsKey(call.Segments[0]) ? WhatsAppSend(call) : Pages.ContainsKey(call.Segments[0]) ? InstagramSend(call) : null);
        Map("POST", "{phoneNumberId}/media", call => PhoneNumbers.ContainsKey(call.Segments[0]) ? Upload(call) : null);
    }

    private static MetaResponse Invalid(string message) => MetaResponse.Error(400, 100, $"(#100) {message}", "OAuthException");

    private MetaResponse? Unauthorized(MetaCall call, string id) =>
        TokenActsFor(call.Token, id) ? null
        : IsKnownToken(call.Token) ? MetaResponse.Error(400, 100, $"Unsupported post request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "GraphMethodException", 33)
        : InvalidToken();

    private bool IsKnownToken(string? token) => token is not null
        && (PhoneNumbers.Values.Any(n => n.AccessToken == token && !n.TokenRevoked) || Pages.Values.Any(p => p.AccessToken == token && !p.TokenRevoked));

    private MetaResponse WhatsAppSend(MetaCall call)
    {
        var phoneNumberId = call.Segments[0];
        if (Unauthorized(call, phoneNumberId) is { } refused)
        {
            return refused;
        }

        if (!(call.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) ?? false) || call.BodyJson is not JsonObject body)
        {
            return Invalid("The request body must be JSON.");
        }

        if (body["messaging_product"]?.GetValue<string>() != "whatsapp")
        {
            return Invalid("The parameter messaging_product is required and must be whatsapp.");
        }

        var to = body["to"]?.GetValue<string>();
        if (string.IsNullOrEmpty(to) || !to.TrimStart('+').All(char.IsAsciiDigit))
        {
            return Invalid("The parameter to is required: a phone number or WhatsApp id.");
        }

        var type = body["type"]?.GetValue<string>() ?? "text";
        if (!WhatsAppTypes.Contains(type) || body[type] is not JsonObject content)
        {
            return Invalid($"Param type must be one of {{{string.Join(", ", WhatsAppTypes)}}} with an object of that name.");
        }

        if (CheckWhatsAppContent(phoneNumberId, type, content) is { } error)
        {
            return error;
        }

        var id = "wamid.HBgN" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        Sent.Enqueue(new FakeSentMessage(phoneNumberId, to, type, body, id));
        return MetaResponse.Ok(new JsonObject
        {
            ["messaging_product"] = "whatsapp",
            ["contacts"] = new JsonArray(new JsonObject { ["input"] = to, ["wa_id"] = to.TrimStart('+') }),
            ["messages"] = new JsonArray(new JsonObject { ["id"] = id }),
        });
    }

    private MetaResponse? CheckWhatsAppContent(string phoneNumberId, string type, JsonObject content)
    {
        switch (type)
        {
            case "text":
                var text = content["body"]?.GetValue<string>();
                return string.IsNullOrEmpty(text) || text.Length > 4096 ? Invalid("Param text['body'] is required, at most 4096 characters.") : null;

            case "template":
                var name = content["name"]?.GetValue<string>();
                var language = content["language"]?["code"]?.GetValue<string>();
                if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(language))
                {
                    return Invalid("Param template['name'] and template['language']['code'] are required.");
                }

                var account = PhoneNumbers[phoneNumberId].BusinessAccountId;
                return TemplatesOf(account).Any(t => t["name"]?.GetValue<string>() == name && t["language"]?.GetValue<string>() == language)
                    ? null
                    : MetaResponse.Error(404, 132001, "Template name does not exist in the translation", "OAuthException");

            default:
                var mediaId = content["id"]?.GetValue<string>();
                if (mediaId is null || !Uploaded.TryGetValue(mediaId, out var media) || media.PhoneNumberId != phoneNumberId)
                {
                    return Invalid($"Param {type}['id'] must be the id of media uploaded to this phone number.");
                }

                if (media.Type != type)
                {
                    return MetaResponse.Error(400, 131053, $"Media upload error: media of type {media.ContentType} cannot be sent as {type}", "OAuthException");
                }

                return type == "audio" && content.ContainsKey("caption") ? Invalid("Param audio does not take a caption.") : null;
        }
    }

    private MetaResponse Upload(MetaCall call)
    {
        var phoneNumberId = call.Segments[0];
        if (Unauthorized(call, phoneNumberId) is { } refused)
        {
            return refused;
        }

        if (call.ContentType is null || !MediaTypeHeaderValue.TryParse(call.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase) || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { } boundary)
        {
            return Invalid("The upload must be multipart/form-data.");
        }

        var fields = new Dictionary<string, string>();
        (string Name, string Type, byte[] Bytes)? file = null;
        var reader = new MultipartReader(boundary, new MemoryStream(call.Body));
        while (reader.ReadNextSectionAsync().GetAwaiter().GetResult() is { } section)
        {
            var disposition = ContentDispositionHeaderValue.Parse(section.ContentDisposition);
            using var buffer = new MemoryStream();
            section.Body.CopyTo(buffer);
            var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
            if (name == "file")
            {
                file = (HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "", section.ContentType ?? "", buffer.ToArray());
            }
            else
            {
                fields[name] = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
            }
        }

        if (fields.GetValueOrDefault("messaging_product") != "whatsapp" || file is null || string.IsNullOrEmpty(fields.GetValueOrDefault("type")))
        {
            return Invalid("Params messaging_product=whatsapp, type and file are required.");
        }

        var mime = fields["type"];
        var media = new FakeUpload(NewId(), phoneNumberId, file.Value.Name, mime, KindOf(mime), file.Value.Bytes);
        Uploaded[media.Id] = media;
        return MetaResponse.Ok(new JsonObject { ["id"] = media.Id });
    }

    private static string KindOf(string mime) => mime switch
    {
        "image/jpeg" or "image/png" => "image",
        "video/mp4" or "video/3gpp" => "video",
        _ when mime.StartsWith("audio/", StringComparison.Ordinal) => "audio",
        _ => "document",
    };

    private MetaResponse InstagramSend(MetaCall call)
    {
        var pageId = call.Segments[0];
        if (Unauthorized(call, pageId) is { } refused)
        {
            return refused;
        }

        if (call.BodyJson is not JsonObject body || body["recipient"]?["id"]?.GetValue<string>() is not { Length: > 0 } recipient)
        {
            return Invalid("param recipient[id] must be a non-empty string.");
        }

        var messagingType = body["messaging_type"]?.GetValue<string>();
        var tag = body["tag"]?.GetValue<string>();
        if (messagingType is not ("RESPONSE" or "UPDATE" or "MESSAGE_TAG") || (messagingType == "MESSAGE_TAG") != (tag is not null) || tag is not (null or "HUMAN_AGENT"))
        {
            return Invalid("param messaging_type must be RESPONSE, UPDATE or MESSAGE_TAG, with tag HUMAN_AGENT only for MESSAGE_TAG.");
        }

        var message = body["message"] as JsonObject;
        var hasText = message?["text"]?.GetValue<string>() is { Length: > 0 and <= 1000 };
        var hasAttachment = message?["attachment"]?["payload"]?["url"] is not null;
        if (hasText == hasAttachment)
        {
            return Invalid("param message must have either text (at most 1000 characters) or an attachment.");
        }

        var id = "aWdfZAG1faWRfbWlk" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        Sent.Enqueue(new FakeSentMessage(pageId, recipient, hasText ? "text" : "attachment", body, id));
        return MetaResponse.Ok(new JsonObject { ["recipient_id"] = recipient, ["message_id"] = id });
    }
}
