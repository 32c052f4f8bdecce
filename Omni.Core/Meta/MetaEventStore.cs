using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Meta;

/// <summary>The queue message that asks the MetaEvent function to process one stored event: where it is, and which attempt this is.</summary>
internal sealed record MetaEventWork(string CompanyId, string ChannelId, string Blob, int Attempt = 1);

/// <summary>
/// Meta's webhook events, kept as Meta sent them (the signed bytes) in the <c>meta-events</c> container before they
/// are acknowledged, and queued for processing. A name is the hash of the bytes and every write is
/// <c>If-None-Match: *</c>, so Meta's retry of one event finds its blob already there.
/// </summary>
internal sealed class MetaEventStore(BlobServiceClient blobs, QueueServiceClient queues, IOptions<MetaInboundOptions> options)
{
    public const string Container = "meta-events";

    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient(Container);
    private readonly QueueClient _queue = queues.GetQueueClient(options.Value.EventsQueueName);

    public static string BlobName(string companyId, string channelId, ReadOnlySpan<byte> body) =>
        $"{companyId}/{channelId}/{Convert.ToHexStringLower(SHA256.HashData(body))}.json";

    /// <summary>Stores the event and queues it; when this returns, the event survives a crash of this process.</summary>
    public async Task StoreAsync(string companyId, string channelId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        var name = BlobName(companyId, channelId, body.Span);
        try
        {
            await _container.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(body), new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
                Conditions = new BlobRequestConditions { IfNoneMatch = Azure.ETag.All },
            }, cancellationToken);
        }
        catch (Azure.RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // The same bytes arrived before (Meta's retry); queue them again anyway: processing is idempotent, and the
            // first delivery may have died between its blob and its queue message.
        }

        await EnqueueAsync(new MetaEventWork(companyId, channelId, name), cancellationToken: cancellationToken);
    }

    public async Task EnqueueAsync(MetaEventWork work, TimeSpan? delay = null, CancellationToken cancellationToken = default) =>
        await _queue.EnqueueAsync(JsonSerializer.Serialize(work, MetaJsonContext.Default.MetaEventWork), delay, cancellationToken);

    /// <summary>The event's bytes, or null when the blob is gone.</summary>
    public async Task<BinaryData?> ReadAsync(string name, CancellationToken cancellationToken = default)
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

    public static MetaEventWork? ParseWork(string body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, MetaJsonContext.Default.MetaEventWork);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MetaEventWork))]
internal sealed partial class MetaJsonContext : JsonSerializerContext;
