using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Omni.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>Registers the three storage clients once, as singletons, from <c>AzureWebJobsStorage</c>.</summary>
    public static IHostApplicationBuilder AddOmniStorage(this IHostApplicationBuilder builder)
    {
        var connection = StorageConnection.FromConfiguration(builder.Configuration);
        builder.Services.AddAzureClients(clients =>
        {
            if (connection.ConnectionString is { } cs)
            {
                clients.AddTableServiceClient(cs);
                clients.AddQueueServiceClient(cs).ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.Base64);
                clients.AddBlobServiceClient(cs);
            }
            else
            {
                clients.AddTableServiceClient(connection.TableUri!);
                clients.AddQueueServiceClient(connection.QueueUri!).ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.Base64);
                clients.AddBlobServiceClient(connection.BlobUri!);
                clients.UseCredential(connection.Credential!);
            }
        });

        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section);
        builder.Services.AddHostedService<StorageProvisioner>();
        builder.Services.AddSingleton<StorageHealth>();
        return builder;
    }

    /// <summary>Declares tables, queues and containers a feature uses, so they exist before traffic arrives.</summary>
    public static IServiceCollection AddStorageResources(
        this IServiceCollection services, string[]? tables = null, string[]? queues = null, string[]? containers = null)
    {
        services.Configure<StorageOptions>(o =>
        {
            o.Tables.UnionWith(tables ?? []);
            o.Queues.UnionWith(queues ?? []);
            o.Containers.UnionWith(containers ?? []);
        });
        return services;
    }

}
