using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using Omni.Security;
using Omni.Storage;

namespace Omni.MercadoLivre;

public static class MercadoLivreServiceCollectionExtensions
{
    /// <summary>The <c>mercadolivre</c> channel: the seller's tokens, notifications, questions and post-sale messages (docs/mercadolivre.md).</summary>
    public static IServiceCollection AddMercadoLivreChannel(this IServiceCollection services)
    {
        services.AddOptions<MercadoLivreOptions>().BindConfiguration(MercadoLivreOptions.Section)
            .Validate(o => MercadoLivreOptions.IsAbsoluteHttps(o.ApiBaseUrl) && MercadoLivreOptions.IsAbsoluteHttps(o.AuthBaseUrl),
                "Omni__MercadoLivre__ApiBaseUrl and Omni__MercadoLivre__AuthBaseUrl must be absolute https URLs such as https://api.mercadolibre.com.")
            .Validate(o => o.RequestTimeout > TimeSpan.Zero && o.TokenLeaseTimeout > TimeSpan.Zero && o.RetryDelay > TimeSpan.Zero && o.NotificationAttempts >= 1,
                "Omni__MercadoLivre__RequestTimeout, TokenLeaseTimeout and RetryDelay must be positive and NotificationAttempts at least 1.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.NotificationsQueueName), "Omni__MercadoLivre__NotificationsQueueName must name a queue.")
            .ValidateOnStart();
        services.AddSafeConnector();
        services.AddHttpClient(MercadoLivreApi.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<SafeConnector>().CreateHttpHandler(() => false));
        services.AddStorageResources(tables: [MercadoLivreNotificationStore.TableName, MercadoLivreConsent.TableName, MercadoLivreReconnects.TableName, MercadoLivreAttachments.TableName]);
        services.AddOptions<StorageOptions>().Configure<IOptions<MercadoLivreOptions>>((storage, ml) => storage.Queues.Add(ml.Value.NotificationsQueueName));
        services.AddSingleton<MercadoLivreApi>();
        services.AddSingleton<MercadoLivreReconnects>();
        services.AddSingleton<IReconnectIndex>(sp => sp.GetRequiredService<MercadoLivreReconnects>());
        services.AddSingleton<MercadoLivreTokens>();
        services.AddSingleton<MercadoLivreNotificationStore>();
        services.AddSingleton<MercadoLivreNotifications>();
        services.AddSingleton<MercadoLivreQuestionNotes>();
        services.AddSingleton<MercadoLivreAttachments>();
        services.AddSingleton<MercadoLivreInbound>();
        services.AddSingleton<MercadoLivreNotificationProcessor>();
        services.AddSingleton<MercadoLivreMissedFeeds>();
        services.AddSingleton<MercadoLivreConsent>();
        return services.AddChannelKind(ChannelTypes.MercadoLivre, kind => kind
            .Settings<MercadoLivreSettingsRules>()
            .Tester<MercadoLivreTester>()
            .Transport<MercadoLivreOutboundTransport>()
            .Inbound("Mercado Livre's notifications: POST /api/providers/mercadolivre/notifications?key=…, processed by the MercadoLivreNotification queue function"));
    }
}
