using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Omni.Channels;

namespace Omni.Email;

/// <summary>
/// Blob Storage for mail: the raw MIME of every ingested message, its attachments, quarantined mail, and pollers'
/// legacy state. Nothing is ever overwritten (every write is <c>If-None-Match: *</c>): names carry a hash of the
/// content, so a retried ingest finds its blob already there, and another mail under the same Message-ID gets its own.
/// </summary>
public sealed class MailArchive(BlobServiceClient blobs)
{
    public const string Container = "mail";

    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(Container);

    /// <param name="content">A hash of the raw bytes: one Message-ID with other bytes is another folder, never an overwrite.</param>
    public static string RawName(Channel channel, string key, string content) => $"{channel.CompanyId}/{channel.Id}/{key}/{content}/message.eml";

    public static string AttachmentName(Channel channel, string key, string content, int index, string fileName) => $"{channel.CompanyId}/{channel.Id}/{key}/{content}/{index:D2}-{fileName}";

    /// <summary>Raw MIME stored before names carried a content hash (<c>{key}/message.eml</c>).</summary>
    public static bool IsLegacyRawName(string name) => name.Split('/') is { Length: 4 };

    public static string QuarantineName(Channel channel, string id) => $"quarantine/{channel.CompanyId}/{channel.Id}/{id}.eml";

    public static string StateName(Channel channel, string name) => $"state/{channel.CompanyId}/{channel.Id}/{name}";

    /// <summary>Creates the blob; one already there under this name is kept as it is (its name says it holds the same content).</summary>
    public async Task<string> PutAsync(string name, Stream content, string contentType, CancellationToken cancellationToken = default)
    {
        try
        {
            await _container.GetBlobClient(name).UploadAsync(content, Create(contentType), cancellationToken);
        }
        catch (Azure.RequestFailedException ex) when (ex.Status is 409 or 412)
        {
        }

        return name;
    }

    public Task<string> PutAsync(string name, BinaryData content, string contentType, CancellationToken cancellationToken = default) =>
        PutAsync(name, content.ToStream(), contentType, cancellationToken);

    // One block at a time: a seekable stream (a spooled mail) is then sent straight from the file, block by block,
    // and a forward-only one is buffered a block at a time, never whole (the SDK's defaults buffer several blocks,
    // or the whole stream when it has no length).
    private static readonly StorageTransferOptions Transfer = new() { InitialTransferSize = 4 * 1024 * 1024, MaximumTransferSize = 4 * 1024 * 1024, MaximumConcurrency = 1 };

    private static BlobUploadOptions Create(string contentType) => new()
    {
        HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
        Conditions = new BlobRequestConditions { IfNoneMatch = Azure.ETag.All },
        TransferOptions = Transfer,
    };

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
