using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Credentials;
using Omni.Storage;

namespace Omni.Meta;

public static class MetaServiceCollectionExtensions
{
    private const string NotYet = "arrives with the Meta channel issue.";

    /// <summary>The <c>whatsapp</c> and <c>instagram</c> channels: their settings can be kept now; talking to Meta is not built yet.</summary>
    public static IServiceCollection AddMetaChannels(this IServiceCollection services)
    {
        services.AddOptions<MetaOptions>().BindConfiguration(MetaOptions.Section)
            .Validate(o => MetaOptions.IsAbsoluteHttps(o.GraphBaseUrl), "Omni__Meta__GraphBaseUrl must be an absolute https URL such as https://graph.facebook.com/v23.0.")
            .Validate(o => o.RequestTimeout > TimeSpan.Zero, "Omni__Meta__RequestTimeout must be positive.")
            .ValidateOnStart();
        services.AddHttpClient(MetaGraphClient.HttpClientName);
        services.AddSingleton<MetaGraphClient>();
        services.AddSingleton<MetaMessageIndex>();
        services.AddOptions<StorageOptions>().Configure(o => o.Tables.Add(MetaMessageIndex.TableName));
        services.AddMetaInbound();
        return services
            .AddChannelKind(ChannelTypes.WhatsApp, kind => kind
            .Settings<WhatsAppSettingsRules>()
            .EditedWithScope(Scopes.SettingsGeneral, "WhatsApp channels are created and edited with the settings:general scope (Configurações Gerais).")
            .NoTester("Trying the number against the provider " + NotYet)
            .NoTransport("WhatsApp sending " + NotYet)
            .Inbound("Meta's webhook: GET/POST /api/providers/meta/{channelId}, processed by the MetaEvent queue function"))
        .AddChannelKind(ChannelTypes.Instagram, kind => kind
            .Settings<InstagramSettingsRules>()
            .NoTester("Trying the page token against the Graph API " + NotYet)
            .NoTransport("Instagram sending " + NotYet)
            .Inbound("Meta's webhook: GET/POST /api/providers/meta/{channelId}, processed by the MetaEvent queue function"));
    }
}
