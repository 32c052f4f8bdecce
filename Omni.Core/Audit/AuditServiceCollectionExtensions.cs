using Microsoft.Extensions.DependencyInjection;
using Omni.Storage;

namespace Omni.Audit;

public static class AuditServiceCollectionExtensions
{
    public static IServiceCollection AddOmniAudit(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [StorageNames.AuditEventsTable]);
        services.AddSingleton<IAuditLog, TableAuditLog>();
        return services;
    }
}
