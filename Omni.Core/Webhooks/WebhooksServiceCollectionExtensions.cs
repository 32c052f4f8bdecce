using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Security;
using Omni.Storage;

namespace Omni.Webhooks;

public static class WebhooksServiceCollectionExtensions
{
    /// <summary>Signed webhook delivery for omni channels: the publisher, the sender, the delivery function's handler and the sweep of stranded attempts.</summary>
    public static IServiceCollection AddOmniWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section)
            .Validate(o => WebhookRetrySchedule.TryParse(o.RetrySchedule, out _), WebhookRetrySchedule.ValidationMessage)
            .Validate(o => o.AttemptTimeout >= TimeSpan.FromSeconds(1) && o.AttemptTimeout <= TimeSpan.FromMinutes(2),
                "Omni__Webhooks__AttemptTimeout must be between 1 second and 2 minutes.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.QueueName), "Omni__Webhooks__QueueName must not be empty.")
            .Validate(o => o.SweepGrace >= TimeSpan.Zero && o.SweepGrace <= TimeSpan.FromDays(1), "Omni__Webhooks__SweepGrace must be between 0 and 1 day.")
            .ValidateOnStart();
        services.AddStorageResources(tables: [TableWebhookDeliveryStore.TableName], containers: [TableWebhookDeliveryStore.ContainerName]);
        services.AddOptions<StorageOptions>().Configure<IOptions<WebhookOptions>>((storage, webhooks) =>
        {
            storage.Queues.Add(webhooks.Value.QueueName);
            storage.Tables.Add(webhooks.Value.DueTableName);
        });

        services.AddSafeConnector();
        services.AddHttpClient(WebhookSender.ClientName)
            .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<SafeConnector>()
                .CreateHttpHandler(() => sp.GetRequiredService<IOptionsMonitor<WebhookOptions>>().CurrentValue.AllowPrivateTargets))
            // The factory's default logs name the URL, and integrators put tokens in webhook URLs.
            .RemoveAllLoggers();

        services.AddSingleton<WebhookRetrySchedule>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookDestinations>();
        services.AddSingleton<WebhookQueue>();
        services.AddSingleton<IWebhookDeliveryStore, TableWebhookDeliveryStore>();
        services.AddSingleton<IWebhookPublisher, WebhookPublisher>();
        services.AddSingleton<WebhookDueIndex>();
        services.AddSingleton<WebhookDeliveryProcessor>();
        services.AddSingleton<WebhookSweep>();
        services.AddSingleton<WebhookSecretRotation>();
        services.AddSingleton<WebhookDeliveries>();
        return services;
    }
}
