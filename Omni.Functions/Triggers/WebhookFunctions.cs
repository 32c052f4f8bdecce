using Omni.Webhooks;

namespace Omni.Functions.Triggers;

internal static class WebhookFunctions
{
    /// <summary>
    /// The DeliverWebhook queue function, the WebhookSweep timer, and a start check that the publisher queues where
    /// its function.json listens.
    /// </summary>
    public static IServiceCollection AddWebhookFunctions(this IServiceCollection services)
    {
        services.AddQueueFunction<WebhookDeliveryProcessor>(FunctionNames.DeliverWebhook, (processor, message, cancellationToken) => processor.ProcessAsync(message.Body, cancellationToken));
        services.AddTimerFunction<WebhookSweep>(FunctionNames.WebhookSweep, (sweep, _, cancellationToken) => sweep.SweepAsync(cancellationToken));
        services.AddOptions<WebhookOptions>()
            .Validate<FunctionCatalog>((o, catalog) => catalog.Functions.Any(f => f.Name == FunctionNames.DeliverWebhook && f.QueueName == o.QueueName),
                $"Omni__Webhooks__QueueName must be the queueName of functions/{FunctionNames.DeliverWebhook}/function.json.");
        return services;
    }
}
