using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Credentials;
using Omni.Storage;

namespace Omni.Meta;

public static class MetaServiceCollectionExtensions
{
    /// <summary>The <c>whatsapp</c> and <c>instagram</c> channels over Meta's Graph API: settings, "Testar Configurações", sending and templates.</summary>
    public static IServiceCollection AddMetaChannels(this IServiceCollection services)
    {
        services.AddOptions<MetaOptions>().BindConfiguration(MetaOptions.Section)
            .Validate(o => MetaOptions.IsAbsoluteHttps(o.GraphBaseUrl), "Omni__Meta__GraphBaseUrl must be an absolute https URL such as https://graph.facebook.com/v23.0.")
            .Validate(o => o.RequestTimeout > TimeSpan.Zero, "Omni__Meta__RequestTimeout must be positive.")
            .ValidateOnStart();
        services.AddHttpClient(MetaGraphClient.HttpClientName);
        services.AddSingleton<MetaGraphClient>();
        services.AddSingleton<MetaMessageIndex>();
        services.AddSingleton<MetaSends>();
        services.AddSingleton<MetaChecks>();
        services.AddSingleton<WhatsAppTemplates>();
        services.AddOptions<StorageOptions>().Configure(o => o.Tables.Add(MetaMessageIndex.TableName));
        services.AddMetaInbound();
        return services
            .AddChannelKind(ChannelTypes.WhatsApp, kind => kind
            .Settings<WhatsAppSettingsRules>()
            .EditedWithScope(Scopes.SettingsGeneral, "WhatsApp channels are created and edited with the settings:general scope (Configurações Gerais).")
            .Tester<WhatsAppTester>()
            .Transport<WhatsAppOutboundTransport>()
            .Inbound("Meta's webhook: GET/POST /api/providers/meta/{channelId}, processed by the MetaEvent queue function"))
        .AddChannelKind(ChannelTypes.Instagram, kind => kind
            .Settings<InstagramSettingsRules>()
            .Tester<InstagramTester>()
            .Transport<InstagramOutboundTransport>()
            .Inbound("Meta's webhook: GET/POST /api/providers/meta/{channelId}, processed by the MetaEvent queue function"));
    }
}
