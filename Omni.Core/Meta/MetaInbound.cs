using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Bots;
using Omni.Channels;
using Omni.Conversations;
using Omni.Telemetry;

namespace Omni.Meta;

/// <summary>A media file of an inbound message: a WhatsApp media id (resolved through Graph) or a URL Meta handed out (Instagram).</summary>
internal sealed record MetaMedia(string Kind, string? MediaId = null, Uri? Url = null, string? MimeType = null, string? FileName = null);

/// <summary>One inbound message read from a Meta event, before it is stored; <see cref="ExternalId"/> is Meta's wamid or mid.</summary>
internal sealed record MetaDraft(string ExternalId, ContactInfo Contact, string? Text, Dictionary<string, string> Metadata, IReadOnlyList<MetaMedia> Media);

/// <summary>
/// Stores the messages of Meta events through the conversation store's idempotency (channel + Meta's id), so an event
/// Meta delivers twice, or one processed again after a crash, is one message. A message with media reserves its id
/// first, so a concurrent copy waits instead of downloading the file again; media Meta will not hand over right now
/// sends the event back to the queue, and at the last attempt the message is stored with the failure recorded.
/// </summary>
internal sealed partial class MetaInbound(
    IConversationStore store,
    AttachmentStore attachments,
    MetaGraphClient graph,
    IChannelStore channels,
    BotRouting bots,
    IOptions<MetaInboundOptions> options,
    WhatsAppExpiry expiry,
    ILogger<MetaInbound> logger)
{
    // Each value is cut so that a contact card or a long caption cannot push the metadata past its property.
    private const int MetadataValueCharacters = 4000;

    /// <summary>True when the message is stored (now or before); false when it must be tried again later.</summary>
    public async Task<bool> AppendAsync(Channel channel, MetaDraft draft, bool lastAttempt, CancellationToken cancellationToken = default)
    {
        if (draft.Media.Count == 0)
        {
            await StoredAsync(channel, draft, await store.AppendInboundAsync(ToInbound(channel, draft, [], reserved: false), cancellationToken), cancellationToken);
            return true;
        }

        var reservation = await store.ReserveAsync(channel.CompanyId, channel.Id, draft.ExternalId, null, cancellationToken);
        if (reservation.Outcome != ReservationOutcome.Reserved)
        {
            if (reservation.Existing is { } existing)
            {
                await expiry.InboundStoredAsync(channel, existing, cancellationToken);
                // Stored before (a redelivered event): its bot may not have been told yet.
                await bots.DeliverInboundAsync(channel, existing, cancellationToken);
            }

            return reservation.Outcome == ReservationOutcome.Completed;
        }

        try
        {
            var refs = new List<AttachmentRef>();
            for (var i = 0; i < draft.Media.Count; i++)
            {
                var fetched = await FetchAsync(channel, draft.Media[i], cancellationToken);
                if (fetched.Transient && !lastAttempt)
                {
                    await store.ReleaseAsync(channel.CompanyId, channel.Id, draft.ExternalId, CancellationToken.None);
                    return false;
                }

                if (fetched.Stored is { } stored)
                {
                    refs.Add(stored);
                }
                else
                {
                    draft.Metadata[draft.Media.Count == 1 ? "mediaError" : $"mediaError{i + 1}"] = fetched.Problem!;
                    LogMediaNotStored(channel.Id, draft.Media[i].Kind, fetched.Problem!);
                }
            }

            await StoredAsync(channel, draft, await store.AppendInboundAsync(ToInbound(channel, draft, refs, reserved: true), cancellationToken), cancellationToken);
            return true;
        }
        catch
        {
            // Not stored: free the id now rather than making the retry wait out the in-flight timeout.
            await store.ReleaseAsync(channel.CompanyId, channel.Id, draft.ExternalId, CancellationToken.None);
            throw;
        }
    }

    private static InboundMessage ToInbound(Channel channel, MetaDraft draft, IReadOnlyList<AttachmentRef> refs, bool reserved) => new(
        channel.CompanyId, channel.Id, draft.ExternalId, draft.Contact, draft.Text, Attachments: refs,
        Metadata: draft.Metadata.ToDictionary(p => p.Key, p => p.Value.Length > MetadataValueCharacters ? p.Value[..MetadataValueCharacters] : p.Value),
        Reserved: reserved)
    {
        // A conversation this message opens starts with the channel's bot, when it has one (returnToBot).
        OpensWithBotId = BotReturns.ChannelBot(channel),
    };

    /// <summary>After the append (now or before, for a redelivered event): logged once, its conversation's expiry scheduled, and handed to the conversation's bot if a bot handles it.</summary>
    private async Task StoredAsync(Channel channel, MetaDraft draft, AppendResult result, CancellationToken cancellationToken)
    {
        OmniTelemetry.MessageReceived(channel.Type, result.Outcome);
        if (result.Outcome == AppendOutcome.Created)
        {
            LogStored(result.Message.Id, result.Message.ConversationId, channel.Id, draft.Metadata.GetValueOrDefault("type") ?? "message");
        }

        await expiry.InboundStoredAsync(channel, result, cancellationToken);
        await bots.DeliverInboundAsync(channel, result, cancellationToken);
    }

    private sealed record MediaFetch(AttachmentRef? Stored, string? Problem, bool Transient = false);

    /// <summary>WhatsApp: <c>GET {graph}/{mediaId}</c> for the URL, then that URL with the bearer token; Instagram: the URL itself.</summary>
    private async Task<MediaFetch> FetchAsync(Channel channel, MetaMedia media, CancellationToken cancellationToken)
    {
        var token = channels.RevealSecret(channel, "accessToken") ?? "";
        var max = options.Value.MaxMediaBytes;
        try
        {
            var url = media.Url;
            var mime = media.MimeType;
            if (media.MediaId is { } id)
            {
                var info = await graph.GetAsync(Uri.EscapeDataString(id), token, cancellationToken);
                if (info["file_size"] is System.Text.Json.Nodes.JsonValue s && s.TryGetValue<long>(out var size) && size > max)
                {
                    return TooLarge(size, max);
                }

                mime = info["mime_type"]?.GetValue<string>() ?? mime;
                url = Uri.TryCreate(info["url"]?.GetValue<string>(), UriKind.Absolute, out var u) ? u : null;
            }

            if (url is null)
            {
                return new MediaFetch(null, "Meta gave no download URL for this media.");
            }

            using var response = await graph.OpenAsync(url, token, cancellationToken);
            if (response.Content.Headers.ContentLength is { } length && length > max)
            {
                return TooLarge(length, max);
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            for (int read; (read = await body.ReadAsync(chunk, cancellationToken)) > 0;)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > max)
                {
                    return TooLarge(null, max);
                }
            }

            mime ??= response.Content.Headers.ContentType?.ToString();
            var contentType = mime is { Length: <= ConversationLimits.ContentTypeCharacters } && AttachmentRules.IsAllowedType(mime) ? mime : "application/octet-stream";
            var fileName = media.FileName is { Length: > 0 } name ? Path.GetFileName(name) : $"{media.Kind}.{MetaMediaTypes.Extension(contentType)}";
            return new MediaFetch(await attachments.UploadAsync(channel.CompanyId, channel.Id, fileName, contentType, buffer.ToArray(), cancellationToken), null);
        }
        catch (MetaApiException e) when (e.IsThrottled || (int)e.Status >= 500)
        {
            return new MediaFetch(null, $"Meta did not hand the media over (error {e.Code}: {e.Title}).", Transient: true);
        }
        catch (MetaApiException e)
        {
            return new MediaFetch(null, $"Meta refused the media (error {e.Code}: {e.Title}).");
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new MediaFetch(null, "Meta could not be reached for the media.", Transient: true);
        }
    }

    private static MediaFetch TooLarge(long? size, long max) =>
        new(null, size is { } s ? $"The media is {s} bytes, over the limit of {max} bytes: not stored." : $"The media is over the limit of {max} bytes: not stored.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Meta {Type} stored as message {MessageId} in conversation {ConversationId} on channel {ChannelId}")]
    private partial void LogStored(string messageId, string conversationId, string channelId, string type);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Meta {Kind} media on channel {ChannelId} not stored: {Problem}")]
    private partial void LogMediaNotStored(string channelId, string kind, string problem);
}

internal static class MetaMediaTypes
{
    private static readonly Dictionary<string, string> Extensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["image/jpeg"] = "jpg", ["image/png"] = "png", ["image/webp"] = "webp", ["image/gif"] = "gif",
        ["audio/ogg"] = "ogg", ["audio/mpeg"] = "mp3", ["audio/mp4"] = "m4a", ["audio/aac"] = "aac", ["audio/amr"] = "amr",
        ["video/mp4"] = "mp4", ["video/3gpp"] = "3gp", ["application/pdf"] = "pdf",
    };

    public static string Extension(string contentType) => Extensions.GetValueOrDefault(contentType.Split(';')[0].Trim()) ?? "bin";
}
