using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Sas;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>
/// An IVR message as an ACS play source: text as <c>TextSource {text, voiceName, sourceLocale}</c>, an uploaded audio as
/// <c>FileSource</c> with a short-lived read-only URL to its telephony WAV in <c>voice-audio</c>. The URL is a
/// user-delegation SAS when storage is reached with a token credential (no account key exists then), and a SAS
/// signed with the account key otherwise.
/// </summary>
internal sealed class CallPrompts(BlobServiceClient blobs, IOptions<AcsOptions> options, TimeProvider clock)
{
    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(VoiceStorage.AudioContainer);

    public async Task<JsonObject> SourceAsync(string companyId, IvrMessage message, CancellationToken cancellationToken = default)
    {
        if (message.AudioId is not { } audioId)
        {
            var voice = message.Voice ?? IvrRules.DefaultVoice;
            return new JsonObject
            {
                ["kind"] = "text",
                ["text"] = new JsonObject { ["text"] = message.Text, ["voiceName"] = voice, ["sourceLocale"] = string.Join('-', voice.Split('-')[..2]) },
            };
        }

        return new JsonObject
        {
            ["kind"] = "file",
            ["file"] = new JsonObject { ["uri"] = (await ReadUrlAsync(AudioClips.BlobName(companyId, audioId), cancellationToken)).ToString() },
            // An audio never changes under its id, so ACS may keep what it fetched.
            ["playSourceCacheId"] = audioId,
        };
    }

    private async Task<Uri> ReadUrlAsync(string blobName, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(blobName);
        var now = clock.GetUtcNow();
        var expires = now + options.Value.AudioUrlLifetime;
        if (blob.CanGenerateSasUri)
        {
            return blob.GenerateSasUri(BlobSasPermissions.Read, expires);
        }

        // Clocks differ a little between us and storage: the URL is valid from a few minutes back.
        var key = await blobs.GetUserDelegationKeyAsync(now.AddMinutes(-5), expires, cancellationToken);
        var sas = new BlobSasBuilder(BlobSasPermissions.Read, expires)
        {
            BlobContainerName = _container.Name,
            BlobName = blobName,
            Resource = "b",
            StartsOn = now.AddMinutes(-5),
        };
        return new BlobUriBuilder(blob.Uri) { Sas = sas.ToSasQueryParameters(key.Value, blobs.AccountName) }.ToUri();
    }
}
