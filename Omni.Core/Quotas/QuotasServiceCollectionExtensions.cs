using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Omni.Storage;

namespace Omni.Quotas;

public static class QuotasServiceCollectionExtensions
{
    /// <summary>
    /// The per-company limits and their counters. Every feature that counts against a quota calls this, so it
    /// registers once however many do.
    /// </summary>
    public static IServiceCollection AddOmniQuotas(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(CompanyQuotas)))
        {
            return services;
        }

        services.AddStorageResources(tables: [CompanyQuotas.Table]);
        services.AddOptions<QuotaOptions>().BindConfiguration(QuotaOptions.Section)
            .Validate(o => o.IsValid(), "Omni__Quotas__MaxChannelsPerCompany, MaxApiKeysPerChannel, MaxManagementKeysPerCompany and MaxConcurrentPollsPerCompany (app-wide and under Companies__<id>) must be at least 1.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CompanyQuotas>();
        return services;
    }
}
