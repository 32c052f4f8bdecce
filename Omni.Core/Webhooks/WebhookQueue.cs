using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace Omni.Webhooks;

/// <summary>
/// The delivery queue: a message names one attempt of one delivery and becomes visible when that attempt is due.
/// Messages are tiny (ids only); the payload stays with the delivery.
/// </summary>
internal sealed class WebhookQueue(QueueServiceClient queues, IOptions<WebhookOptions> options)
{
    // The queue service's limit for visibility.
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(7);

    public async Task EnqueueAsync(DeliveryTask task, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        // The service counts visibility in whole seconds and the client truncates: round up, never retry early.
        delay = delay <= TimeSpan.Zero ? TimeSpan.Zero : delay >= MaxDelay ? MaxDelay : TimeSpan.FromSeconds(Math.Ceiling(delay.TotalSeconds));
        var body = JsonSerializer.Serialize(task, WebhookJsonContext.Default.DeliveryTask);
        // Never expiring: a message waiting days for its attempt must not vanish before it.
        await queues.GetQueueClient(options.Value.QueueName).SendMessageAsync(body, delay, TimeSpan.FromSeconds(-1), cancellationToken);
    }

    public static DeliveryTask Parse(string body)
    {
        var task = JsonSerializer.Deserialize(body, WebhookJsonContext.Default.DeliveryTask);
        return task is { CompanyId.Length: > 0, ChannelId.Length: > 0, DeliveryId.Length: > 0, Series: >= 1, Attempt: >= 1 }
            ? task
            : throw new FormatException("A webhook delivery message must name companyId, channelId, deliveryId, series and attempt.");
    }
}
