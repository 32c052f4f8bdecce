using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using Omni.Storage;

namespace Omni.Webchat;

public static class WebchatServiceCollectionExtensions
{
    /// <summary>
    /// The <c>webchat</c> channel: the widget a site embeds, the visitor API it calls, and agents' replies delivered
    /// to the visitor's page (SSE from the app, or Azure Web PubSub when <c>Omni__Webchat__WebPubSubEndpoint</c> is set).
    /// </summary>
    public static IServiceCollection AddWebchatChannel(this IServiceCollection services)
    {
        services.AddOptions<WebchatOptions>().BindConfiguration(WebchatOptions.Section)
            .Validate(o => o.WebPubSubEndpoint is null || (o.WebPubSubEndpoint.IsAbsoluteUri && o.WebPubSubEndpoint.Scheme == Uri.UriSchemeHttps),
                "Omni__Webchat__WebPubSubEndpoint must be an absolute https URL such as https://omni.webpubsub.azure.com.")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebchatOptions>, WebchatOptionsValidator>();
        services.AddStorageResources(tables: [WebchatSessionStore.Table]);
        services.AddSingleton<WebchatSessionStore>();
        services.AddSingleton<WebchatVisitors>();
        services.AddSingleton<WebchatAttachments>();
        services.AddSingleton<WebchatEvents>();
        services.AddSingleton<WebchatEventStream>();
        services.AddSingleton<WebchatWidget>();
        services.AddHttpClient(WebPubSubClient.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30));
        // The app's own identity (its user-assigned managed identity in Azure, named by its client id); a test puts its own first.
        services.TryAddSingleton(sp => new WebPubSubCredential(
            sp.GetRequiredService<IConfiguration>()[$"{WebchatOptions.Section}:WebPubSubClientId"] is { Length: > 0 } clientId
                ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
                : new DefaultAzureCredential()));
        services.AddSingleton<WebPubSubClient>();
        return services.AddChannelKind(ChannelTypes.Webchat, kind => kind
            .Settings<WebchatSettingsRules>()
            .NoTester("The web chat has no external service to try: its widget is served by this app.")
            .Transport<WebchatOutboundTransport>()
            .Inbound("The visitor API: POST /api/webchat/{websiteToken}/sessions, then POST /api/webchat/sessions/messages with the session token"));
    }
}
