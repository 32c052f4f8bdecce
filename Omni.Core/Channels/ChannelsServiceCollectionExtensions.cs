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
        services.AddOptions<SecretProtectionOptions>().BindConfiguration(SecretProtectionOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => { SecretProtector.ParseKey(o.SecretsKey); return true; })
            .ValidateOnStart();
        services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section);
        services.AddSingleton<SecretProtector>();
        services.AddSingleton<ChannelSettingsValidator>();
        services.AddSingleton<IChannelStore, TableChannelStore>();
        return services;
    }
}
