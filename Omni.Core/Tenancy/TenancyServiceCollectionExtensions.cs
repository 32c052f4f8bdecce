using Microsoft.Extensions.DependencyInjection;
using Omni.Storage;

namespace Omni.Tenancy;

public static class TenancyServiceCollectionExtensions
{
    public static IServiceCollection AddOmniTenancy(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [StorageNames.CompaniesTable, StorageNames.ServicesTable]);
        services.AddSingleton<ICompanyStore, TableCompanyStore>();
        return services;
    }
}
