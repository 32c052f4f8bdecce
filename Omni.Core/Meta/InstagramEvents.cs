using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using static Omni.Meta.WhatsAppEvents;

namespace Omni.Meta;

/// <summary>
/// An Instagram messaging event (<c>entry[].messaging[]</c>): messages, postbacks and reactions become inbound
/// messages of the sender's IGSID. Files the customer sent are stored; stories (a reply to one, a mention in one) and
/// shared posts are the other account's content and expire, so they are kept as links. Echoes are the account's own
/// messages (the app's sends among them) and are not stored again.
/// </summary>
internal sealed partial class InstagramEvents(MetaInbound inbound, IOptions<MetaOptions> meta, ILogger<InstagramEvents> logger)
{
    private static readonly string[] StoredAttachments = ["image", "video", "audio", "file"];

    // Where Meta serves message attachments; a URL elsewhere is kept as a link, so the page token goes nowhere else.
    private static readonly string[] MetaCdnSuffixes = [".fbsbx.com", ".fbcdn.net", ".cdninstagram.com"];

    public async Task<bool> ProcessAsync(Channel channel, JsonNode root, bool lastAttempt, CancellationToken cancellationToken = default)
    {
        var own = new[] { channel.GetString("instagramAccountId"), channel.GetString("pageId") };
        var done = true;
        foreach (var e in (root["entry"] as JsonArray ?? []).OfType<JsonObject>().SelectMany(entry => (entry["messaging"] as JsonArray ?? []).OfType<JsonObject>()))
        {
            if (Str(e["sender"]?["id"]) is not { Length: > 0 } sender)
            {
                continue;
            }

            if (e["message"]?["is_echo"] is JsonValue echo && echo.TryGetValue<bool>(out var isEcho) && isEcho || own.Contains(sender))
            {
                LogEcho(channel.Id);
                continue;
            }

            if (ToDraft(e, new ContactInfo(sender)) is { } draft)
            {
                done &= await inbound.AppendAsync(channel, draft, lastAttempt, cancellationToken);
            }
        }

        return done;
    }

    private MetaDraft? ToDraft(JsonObject e, ContactInfo contact)
    {
        var metadata = new Dictionary<string, string> { ["igsid"] = contact.ExternalId };
        if (e["message"] is JsonObject message && Str(message["mid"]) is { Length: > 0 } mid)
        {
            metadata["type"] = "message";
            var text = Str(message["text"]);
            var links = new List<string>();
            var media = new List<MetaMedia>();
            if (message["reply_to"]?["story"] is JsonObject story)
            {
                metadata["type"] = "story_reply";
                Link(metadata, links, "storyUrl", Str(story["url"]));
                metadata["storyId"] = Str(story["id"]) ?? "";
            }
            else if (Str(message["reply_to"]?["mid"]) is { } replyTo)
            {
                metadata["replyTo"] = replyTo;
            }

            if (Str(message["quick_reply"]?["payload"]) is { } quickReply)
            {
                metadata["payload"] = quickReply;
            }

            foreach (var attachment in (message["attachments"] as JsonArray ?? []).OfType<JsonObject>())
            {
                var type = Str(attachment["type"]) ?? "file";
                var url = Str(attachment["payload"]?["url"]);
                if (StoredAttachments.Contains(type) && Uri.TryCreate(url, UriKind.Absolute, out var uri) && IsMetaHost(uri))
                {
                    media.Add(new MetaMedia(type, Url: uri));
                }
                else
                {
                    if (type == "story_mention")
                    {
                        metadata["type"] = "story_mention";
                    }

                    Link(metadata, links, type == "story_mention" ? "storyUrl" : $"{type}Url", url);
                }
            }

            return new MetaDraft(mid, contact, Join(text, links), metadata, media);
        }

        if (e["postback"] is JsonObject postback)
        {
            metadata["type"] = "postback";
            metadata["payload"] = Str(postback["payload"]) ?? "";
            // A postback's mid is its own; older events lack one, and the tap is then known by who, when and what.
            var id = Str(postback["mid"]) ?? $"postback|{contact.ExternalId}|{Timestamp(e)}|{metadata["payload"]}";
            return new MetaDraft(id, contact, Str(postback["title"]), metadata, []);
        }

        if (e["reaction"] is JsonObject reaction && Str(reaction["mid"]) is { } reactedTo)
        {
            var action = Str(reaction["action"]) ?? "react";
            metadata["type"] = "reaction";
            metadata["reactionTo"] = reactedTo;
            var emoji = action == "unreact" ? null : Str(reaction["emoji"]) ?? Str(reaction["reaction"]);
            metadata["reaction"] = emoji ?? "removed";
            // A reaction has no id of its own: the reacted message, the action and the moment name it.
            return new MetaDraft($"reaction|{reactedTo}|{action}|{Timestamp(e)}", contact, emoji, metadata, []);
        }

        return null; // reads, deliveries, referrals: nothing for the agents
    }

    private bool IsMetaHost(Uri uri) =>
        uri.Scheme == Uri.UriSchemeHttps && (uri.Host == meta.Value.GraphBaseUri.Host || MetaCdnSuffixes.Any(s => uri.Host.EndsWith(s, StringComparison.OrdinalIgnoreCase)));

    private static void Link(Dictionary<string, string> metadata, List<string> links, string key, string? url)
    {
        if (!string.IsNullOrEmpty(url))
        {
            metadata[key] = url;
            links.Add(url);
        }
    }

    private static string? Join(string? text, List<string> links) =>
        links.Count == 0 ? text : string.Join('\n', new[] { text }.Concat(links).Where(l => !string.IsNullOrEmpty(l)));

    private static string Timestamp(JsonObject e) => e["timestamp"]?.ToJsonString() ?? "0";

    [LoggerMessage(Level = LogLevel.Debug, Message = "Instagram echo on channel {ChannelId}: the account's own message, not stored again")]
    private partial void LogEcho(string channelId);
}
