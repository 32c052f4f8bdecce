using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>
/// The delivery queue: a message names one attempt of one delivery and becomes visible when that attempt is due.
/// Messages name the attempt; only a publish's first attempt also carries the row it wrote (<see cref="DeliverySnapshot"/>).
/// </summary>
internal sealed class WebhookQueue(QueueServiceClient queues, IOptions<WebhookOptions> options)
{
    /// <summary>The largest payload a first attempt's message carries (as base64, well inside the queue's 64 KiB); larger ones are read from the row.</summary>
    public const int SnapshotPayloadLimit = 24 * 1024;

    public Task EnqueueAsync(DeliveryTask task, TimeSpan delay, CancellationToken cancellationToken = default) =>
        queues.GetQueueClient(options.Value.QueueName).EnqueueAsync(JsonSerializer.Serialize(task, WebhookJsonContext.Default.DeliveryTask), delay, cancellationToken);

    public static DeliveryTask Parse(string body)
    {
        var task = JsonSerializer.Deserialize(body, WebhookJsonContext.Default.DeliveryTask);
        return task is { CompanyId.Length: > 0, ChannelId.Length: > 0, DeliveryId.Length: > 0, Series: >= 1, Attempt: >= 1 }
            ? task
            : throw new FormatException("A webhook delivery message must name companyId, channelId, deliveryId, series and attempt.");
    }
}
