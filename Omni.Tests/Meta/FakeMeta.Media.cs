using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Omni.Tests.Meta;

/// <summary>A media file a customer sent: its bytes, and the token of the number or page it was sent to.</summary>
public sealed record FakeMedia(string Id, string OwnerToken, byte[] Bytes, string MimeType);

/// <summary>
/// WhatsApp's media-id flow as documented: <c>GET /{mediaId}</c> answers <c>{url, mime_type, sha256, file_size, id,
/// messaging_product}</c> to the number's token, and the URL (short-lived on Meta's CDN, here on the fake itself)
/// answers the bytes only with that token as a bearer.
/// </summary>
public sealed partial class FakeMeta
{
    private const string DownloadPath = "whatsapp_business/attachments";

    public ConcurrentDictionary<string, FakeMedia> Media { get; } = new(StringComparer.Ordinal);

    /// <summary>A file sent to <paramref name="owner"/>'s number; returns the media id the webhook names.</summary>
    public string AddMedia(FakePhoneNumber owner, byte[] bytes, string mimeType) => AddMedia(owner.AccessToken, bytes, mimeType);

    /// <summary>A file sent to an Instagram account; <see cref="MediaUrl"/> is the URL its webhook carries.</summary>
    public string AddMedia(FakePage owner, byte[] bytes, string mimeType) => AddMedia(owner.AccessToken, bytes, mimeType);

    /// <summary>Where the bytes of a media file are downloaded (with its owner's token).</summary>
    public Uri MediaUrl(string mediaId) => new(BaseUri, $"{Version}/{DownloadPath}/{mediaId}");

    private string AddMedia(string ownerToken, byte[] bytes, string mimeType)
    {
        var media = new FakeMedia(NewId(), ownerToken, bytes, mimeType);
        Media[media.Id] = media;
        return media.Id;
    }

    partial void MapMediaRoutes()
    {
        Map("GET", "{mediaId}", call =>
        {
            if (!Media.TryGetValue(call.Segments[0], out var media))
            {
                return null;
            }

            if (call.Token is null)
            {
                return MetaResponse.Error(400, 2500, "An active access token must be used to query information about the current user.");
            }

            return call.Token != media.OwnerToken
                ? MetaResponse.Error(400, 100, $"Unsupported get request. Object with ID '{media.Id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "GraphMethodException")
                : MetaResponse.Ok(new JsonObject
                {
                    ["url"] = MediaUrl(media.Id).ToString(),
                    ["mime_type"] = media.MimeType,
                    ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(media.Bytes)),
                    ["file_size"] = media.Bytes.Length,
                    ["id"] = media.Id,
                    ["messaging_product"] = "whatsapp",
                });
        });
        Map("GET", DownloadPath + "/{mediaId}", call =>
            !Media.TryGetValue(call.Segments[^1], out var media) ? MetaResponse.Error(404, 100, "Media not found.")
            : call.Token != media.OwnerToken ? InvalidToken()
            : new MetaResponse(200, null, media.Bytes, media.MimeType));
    }
}
