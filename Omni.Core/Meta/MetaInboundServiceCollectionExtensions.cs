using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Meta;

internal static class MetaInboundServiceCollectionExtensions
{
    /// <summary>Meta's webhooks: the endpoint's verification and storage, the queue function that processes events, and WhatsApp's expiry of idle conversations.</summary>
    public static IServiceCollection AddMetaInbound(this IServiceCollection services)
    {
        services.AddOptions<MetaInboundOptions>().BindConfiguration(MetaOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.EventsQueueName), "Omni__Meta__EventsQueueName must name a queue.")
            .Validate(o => o.MaxMediaBytes > 0 && o.MediaAttempts >= 1 && o.RetryDelay > TimeSpan.Zero,
                "Omni__Meta__MaxMediaBytes and Omni__Meta__RetryDelay must be positive and Omni__Meta__MediaAttempts at least 1.")
            .ValidateOnStart();
        services.AddStorageResources(containers: [MetaEventStore.Container]);
        services.AddOptions<StorageOptions>().Configure<IOptions<MetaInboundOptions>>((storage, meta) =>
        {
            storage.Queues.Add(meta.Value.EventsQueueName);
            storage.Tables.Add(meta.Value.ExpiryTableName);
        });
        services.AddSingleton<MetaEventStore>();
        services.AddSingleton<MetaWebhooks>();
        services.AddSingleton<MetaInbound>();
        services.AddSingleton<WhatsAppEvents>();
        services.AddSingleton<InstagramEvents>();
        services.AddSingleton<MetaEventProcessor>();
        services.AddSingleton<WhatsAppExpiry>();
        services.AddScoped<WhatsAppExpirySweep>();
        return services;
    }
}
