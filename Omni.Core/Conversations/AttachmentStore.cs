using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Omni.Storage;

namespace Omni.Conversations;

/// <summary>Attachment bytes in the <c>attachments</c> container, one blob each under the company and channel; messages keep only the reference.</summary>
internal sealed class AttachmentStore(BlobServiceClient blobs)
{
    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(ConversationsServiceCollectionExtensions.AttachmentsContainer);

    public async Task<AttachmentRef> UploadAsync(string companyId, string channelId, string fileName, string contentType, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var blobName = $"{companyId}/{channelId}/{Ids.New("att")}";
        await _container.GetBlobClient(blobName).UploadAsync(BinaryData.FromBytes(content), new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
            Metadata = new Dictionary<string, string> { ["fileName"] = Uri.EscapeDataString(fileName) },
        }, cancellationToken);
        return new AttachmentRef(fileName, contentType, content.Length, blobName);
    }

    public async Task<BinaryData?> DownloadAsync(AttachmentRef attachment, CancellationToken cancellationToken = default)
    {
        var blob = _container.GetBlobClient(attachment.BlobName);
        try
        {
            return (await blob.DownloadContentAsync(cancellationToken)).Value.Content;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }
}
