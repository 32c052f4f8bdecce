using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Omni.Quotas;
using Omni.Security;
using Omni.Storage;

namespace Omni.Channels;

public static class ChannelsServiceCollectionExtensions
{
    /// <summary>The channel store and workflows; each channel kind is registered by its own feature (<c>AddChannelKind</c>).</summary>
    public static IServiceCollection AddOmniChannels(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [StorageNames.ChannelsTable, StorageNames.ChannelDirectoryTable]);
        services.AddOmniSecretProtection();
        services.AddOmniQuotas();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ChannelKinds>();
        services.AddSingleton<ChannelSettingsValidator>();
        services.AddSingleton<ChannelService>();
        services.AddSingleton<ChannelApiKeys>();
        services.AddSingleton<SecretRewrap>();
        services.AddSingleton<IChannelStore, TableChannelStore>();
        return services;
    }
}
