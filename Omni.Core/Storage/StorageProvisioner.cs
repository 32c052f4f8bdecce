using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Omni.Storage;

/// <summary>Creates what the features declared, once at start, all calls at the same time to keep start fast.</summary>
internal sealed partial class StorageProvisioner(
    TableServiceClient tables,
    QueueServiceClient queues,
    BlobServiceClient blobs,
    IOptions<StorageOptions> options,
    ILogger<StorageProvisioner> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!o.ProvisionOnStart)
        {
            return;
        }

        try
        {
            await Task.WhenAll(
                o.Tables.Select(t => tables.CreateTableIfNotExistsAsync(t, cancellationToken))
                    .Concat<Task>(o.Queues.Select(q => queues.GetQueueClient(q).CreateIfNotExistsAsync(cancellationToken: cancellationToken)))
                    .Concat(o.Queues.Select(q => queues.GetQueueClient(q + "-poison").CreateIfNotExistsAsync(cancellationToken: cancellationToken)))
                    .Concat(o.Containers.Select(c => blobs.GetBlobContainerClient(c).CreateIfNotExistsAsync(cancellationToken: cancellationToken))));
            LogProvisioned(o.Tables.Count, o.Queues.Count, o.Containers.Count);
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or AggregateException or HttpRequestException)
        {
            // Fail the start: running without storage only turns every request into a 5xx later.
            throw new InvalidOperationException(
                $"Storage could not be reached or prepared ({ex.Message}). Check {StorageConnection.SettingName}; locally, start Azurite (npm run azurite).", ex);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage ready: {Tables} tables, {Queues} queues, {Containers} containers")]
    private partial void LogProvisioned(int tables, int queues, int containers);
}
