using Microsoft.Extensions.DependencyInjection;
using Omni.Security;
using Omni.Storage;
using Omni.Webhooks;

namespace Omni.Channels;

public static class ChannelsServiceCollectionExtensions
{
    public static IServiceCollection AddOmniChannels(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [StorageNames.ChannelsTable, StorageNames.ChannelDirectoryTable]);
        services.AddOmniSecretProtection();
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section);
        services.AddSingleton<ChannelSettingsValidator>();
        services.AddSingleton<IChannelStore, TableChannelStore>();
        return services;
    }
}
