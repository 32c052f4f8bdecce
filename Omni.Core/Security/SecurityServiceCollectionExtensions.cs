using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Omni.Security;

public static class SecurityServiceCollectionExtensions
{
    /// <summary>The resolver and <see cref="SafeConnector"/> every outbound client shares; safe to call from each feature.</summary>
    public static IServiceCollection AddSafeConnector(this IServiceCollection services)
    {
        services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        services.TryAddSingleton<SafeConnector>();
        return services;
    }
}
