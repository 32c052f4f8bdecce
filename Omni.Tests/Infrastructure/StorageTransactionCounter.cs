using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;

namespace Omni.Tests.Infrastructure;

/// <summary>
/// Counts the storage transactions (billed requests, retries included) the app's Table, Queue and Blob clients
/// make, by kind: attach it to the app's services, reset it before the measured phase, read it after.
/// Labels name the service, the operation and the table, queue or container, and for the Conversations table the
/// kind of row a point read or write touches (see ConversationRows), so a report can say what each one is.
/// </summary>
public sealed class StorageTransactionCounter
{
    private static readonly AsyncLocal<string?> CurrentPhase = new();
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    /// <summary>
    /// When set (it flows with the async call, e.g. from a middleware around an HTTP request), labels start with
    /// <c>[phase] </c>, so a report can split what a request cost before its answer from what background work cost.
    /// </summary>
    public static string? Phase
    {
        get => CurrentPhase.Value;
        set => CurrentPhase.Value = value;
    }

    /// <summary>Adds the counting policy to every Table, Queue and Blob client the app builds through Microsoft.Extensions.Azure.</summary>
    public static StorageTransactionCounter AttachTo(IServiceCollection services)
    {
        var counter = new StorageTransactionCounter();
        services.ConfigureAll<TableClientOptions>(o => o.AddPolicy(new Policy(counter, "table"), HttpPipelinePosition.PerRetry));
        services.ConfigureAll<QueueClientOptions>(o => o.AddPolicy(new Policy(counter, "queue"), HttpPipelinePosition.PerRetry));
        services.ConfigureAll<BlobClientOptions>(o => o.AddPolicy(new Policy(counter, "blob"), HttpPipelinePosition.PerRetry));
        return counter;
    }

    public long Total => _counts.Values.Sum();

    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);

    public void Reset() => _counts.Clear();

    private void Count(string service, Request request) =>
        _counts.AddOrUpdate(Phase is { } phase ? $"[{phase}] {Label(service, request)}" : Label(service, request), 1, (_, n) => n + 1);

    private static string Label(string service, Request request)
    {
        var path = Uri.UnescapeDataString(request.Uri.Path);
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        // Azurite puts the account in the path; Azure puts it in the host name.
        if (segments.Length > 0 && segments[0] == "devstoreaccount1")
        {
            segments = segments[1..];
        }

        var method = request.Method.ToString();
        if (service != "table")
        {
            return $"{service} {method} {(segments.Length > 0 ? segments[0] : "(account)")}";
        }

        var last = segments.Length > 0 ? segments[^1] : "";
        if (last == "$batch")
        {
            return "table POST $batch (entity-group transaction)";
        }

        var paren = last.IndexOf('(', StringComparison.Ordinal);
        var table = paren < 0 ? last : last[..paren];
        var rowKind = "";
        var rowKey = last.IndexOf("RowKey='", StringComparison.Ordinal);
        if (rowKey >= 0 && table == "Conversations" && last.Length > rowKey + 9)
        {
            rowKind = $" {last[rowKey + 8]}| row";
        }

        var shape = rowKey >= 0 ? "point" : method == "GET" ? "query" : "insert";
        return $"table {method} {table} {shape}{rowKind}";
    }

    private sealed class Policy(StorageTransactionCounter counter, string service) : HttpPipelinePolicy
    {
        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            counter.Count(service, message.Request);
            ProcessNext(message, pipeline);
        }

        public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            counter.Count(service, message.Request);
            return ProcessNextAsync(message, pipeline);
        }
    }
}
