using Microsoft.Extensions.DependencyInjection;
using Omni.Quotas;
using Omni.Storage;

namespace Omni.Credentials;

public static class CredentialsServiceCollectionExtensions
{
    public static IServiceCollection AddOmniCredentials(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [StorageNames.CredentialsTable, StorageNames.CredentialIndexTable]);
        services.AddSingleton<ICredentialStore, TableCredentialStore>();
        services.AddOmniQuotas().AddSingleton<ManagementKeys>();
        return services;
    }
}
