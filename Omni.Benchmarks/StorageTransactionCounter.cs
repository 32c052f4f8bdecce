using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Omni.Benchmarks;

/// <summary>
/// Counts storage transactions (every HTTP request, retries included) made by the app's own Azure clients, by
/// service, method and resource (table, queue or container), so a benchmark can say what one operation costs.
/// Added to the app's clients with <c>AddAzureClients(b =&gt; b.ConfigureDefaults(o =&gt; o.AddPolicy(counter, HttpPipelinePosition.PerRetry)))</c>.
/// </summary>
public sealed class StorageTransactionCounter(Func<Uri, string> service) : HttpPipelineSynchronousPolicy
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public long Total => _counts.Values.Sum();

    public override void OnSendingRequest(HttpMessage message)
    {
        var uri = message.Request.Uri.ToUri();
        // Path: /{account}/{resource}[...]; a table entity path looks like Table(PartitionKey='..',RowKey='..').
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var resource = segments.Length > 1 ? segments[1].Split('(')[0] : "(service)";
        _counts.AddOrUpdate($"{service(uri)} {message.Request.Method} {resource}", 1, (_, n) => n + 1);
    }

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_counts, StringComparer.Ordinal);

    public void Reset() => _counts.Clear();
}
