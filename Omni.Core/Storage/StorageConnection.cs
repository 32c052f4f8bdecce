using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Configuration;

namespace Omni.Storage;

/// <summary>
/// Where the app's storage account is, read the way the Functions host reads <c>AzureWebJobsStorage</c>:
/// either a connection string, or identity-based settings (<c>AzureWebJobsStorage__tableServiceUri</c>,
/// <c>__queueServiceUri</c>, <c>__blobServiceUri</c>, <c>__credential</c>, <c>__clientId</c>), so the app and
/// the host share one setting and Azure needs no account key.
/// </summary>
public sealed record StorageConnection(string? ConnectionString, Uri? TableUri, Uri? QueueUri, Uri? BlobUri, TokenCredential? Credential)
{
    public const string SettingName = "AzureWebJobsStorage";
    public const string DevelopmentStorage = "UseDevelopmentStorage=true";

    public static StorageConnection FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection(SettingName);
        var connectionString = section.Value;
        var tableUri = section["tableServiceUri"];
        var queueUri = section["queueServiceUri"];
        var blobUri = section["blobServiceUri"];

        if (string.IsNullOrWhiteSpace(connectionString) && (tableUri ?? queueUri ?? blobUri) is not null)
        {
            if (tableUri is null || queueUri is null || blobUri is null)
            {
                throw new InvalidOperationException(
                    $"{SettingName}: identity-based storage needs all of {SettingName}__tableServiceUri, __queueServiceUri and __blobServiceUri.");
            }

            TokenCredential credential = string.Equals(section["credential"], "managedidentity", StringComparison.OrdinalIgnoreCase)
                ? new ManagedIdentityCredential(section["clientId"] is { Length: > 0 } clientId
                    ? ManagedIdentityId.FromUserAssignedClientId(clientId)
                    : ManagedIdentityId.SystemAssigned)
                : new DefaultAzureCredential();
            return new StorageConnection(null, new Uri(tableUri), new Uri(queueUri), new Uri(blobUri), credential);
        }

        return new StorageConnection(string.IsNullOrWhiteSpace(connectionString) ? DevelopmentStorage : connectionString, null, null, null, null);
    }
}
