using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Omni.Channels;

namespace Omni.Email;

/// <summary>
/// Blob Storage for mail: the raw MIME of every ingested message, its attachments, quarantined mail, and pollers'
/// larger state. Names are derived from the message's key, so a retried ingest overwrites rather than duplicates.
/// </summary>
public sealed class MailArchive(BlobServiceClient blobs)
{
    public const string Container = "mail";

    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(Container);

    public static string RawName(Channel channel, string key) => $"{channel.CompanyId}/{channel.Id}/{key}/message.eml";

    public static string AttachmentName(Channel channel, string key, int index, string fileName) => $"{channel.CompanyId}/{channel.Id}/{key}/{index:D2}-{fileName}";

    public static string QuarantineName(Channel channel, string id) => $"quarantine/{channel.CompanyId}/{channel.Id}/{id}.eml";

    public static string StateName(Channel channel, string name) => $"state/{channel.CompanyId}/{channel.Id}/{name}";

    public async Task<string> PutAsync(string name, Stream content, string contentType, CancellationToken cancellationToken = default)
    {
        await _container.GetBlobClient(name).UploadAsync(content, new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = contentType } }, cancellationToken);
        return name;
    }

    public async Task<string> PutAsync(string name, BinaryData content, string contentType, CancellationToken cancellationToken = default)
    {
        await _container.GetBlobClient(name).UploadAsync(content, new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = contentType } }, cancellationToken);
        return name;
    }

    /// <summary>The blob's content, or null when it does not exist.</summary>
    public async Task<BinaryData?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            return (await _container.GetBlobClient(name).DownloadContentAsync(cancellationToken)).Value.Content;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }
}
