using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>
/// The delivery queue: a message names one attempt of one delivery and becomes visible when that attempt is due.
/// Messages are tiny (ids only); the payload stays with the delivery.
/// </summary>
internal sealed class WebhookQueue(QueueServiceClient queues, IOptions<WebhookOptions> options)
{
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
