using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Benchmarks;

/// <summary>
/// webhook-delivery: (b) deliveries per second through the real pipeline (publisher → Table row → queue →
/// DeliverWebhook on the local trigger runner → signed POST → recorded) beside plain HttpClient POSTs of the same
/// body to the same local sink; (c) storage transactions per delivery, counted on the app's own storage clients.
/// </summary>
internal static class WebhookDeliveryBenchmark
{
    private const int Deliveries = 400;
    private const int Warmup = 20;
    private const int Parallelism = 32;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        await using var sink = await CountingSink.StartAsync();
        await using var app = new BenchApp(azurite.ConnectionString);
        var services = app.Services;
        var counter = app.Counter!;
        var publisher = services.GetRequiredService<IWebhookPublisher>();
        var channel = await services.GetRequiredService<IChannelStore>().CreateAsync(
            new Channel("chn_bench", "cmp_bench", ChannelTypes.Omni, "bench", "svc_bench", new JsonObject { ["webhookUrl"] = sink.Url }, new Dictionary<string, string>(), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow),
            new Dictionary<string, string> { [WebhookSecrets.CurrentField] = WebhookSecrets.New() });
        // Read without the counter, so watching for completion costs the measurement nothing.
        var deliveries = new TableClient(azurite.ConnectionString, TableWebhookDeliveryStore.TableName);

        await PipelineAsync(publisher, channel, sink, deliveries, Warmup, "warm");
        counter.Reset();
        var pipeline = await PipelineAsync(publisher, channel, sink, deliveries, Deliveries, "run");
        var counts = counter.Snapshot();

        var body = System.Text.Encoding.UTF8.GetBytes(Event("baseline").ToJsonString());
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false });
        await BaselineAsync(http, sink.Url, body, Warmup);
        var baseline = await BaselineAsync(http, sink.Url, body, Deliveries);

        var storageBound = await StorageBoundAsync(azurite.ConnectionString, Deliveries);

        double PerDelivery(Func<string, bool> which) => counts.Where(c => which(c.Key)).Sum(c => c.Value) / (double)Deliveries;
        var queue = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<WebhookOptions>>().Value.QueueName;
        bool Runner(string key) => key.StartsWith("queue GET " + queue, StringComparison.Ordinal) || key.StartsWith("queue DELETE " + queue, StringComparison.Ordinal);
        bool OtherQueuePolling(string key) => key.StartsWith("queue GET ", StringComparison.Ordinal) && !key.StartsWith("queue GET " + queue, StringComparison.Ordinal);
        var rows = new List<BenchmarkRow>
        {
            new("deliveries per second, signed, through the pipeline", Deliveries / pipeline.TotalSeconds, "/s", Deliveries / baseline.TotalSeconds, "plain HttpClient POSTs"),
            new("deliveries per second, signed, through the pipeline (vs its storage work alone)", Deliveries / pipeline.TotalSeconds, "/s", Deliveries / storageBound.TotalSeconds, "the same 6 table/queue calls per event, made directly"),
            new("storage transactions per delivery (app: publish + attempt)", PerDelivery(k => !Runner(k) && !OtherQueuePolling(k)), "tx"),
            new("storage transactions per delivery (trigger: receive + delete; the host's in Azure)", PerDelivery(Runner), "tx"),
        };
        rows.AddRange(counts.Where(c => !OtherQueuePolling(c.Key)).OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => new BenchmarkRow($"  {c.Key}", c.Value / (double)Deliveries, "tx")));

        return new BenchmarkReport("webhook-delivery",
            "Events published with IWebhookPublisher and delivered by the DeliverWebhook function (local trigger runner, batch 32) " +
            "to a local Kestrel sink answering 204, against the same number of plain HttpClient POSTs of one event body to that sink " +
            $"({Parallelism} in parallel). Storage transactions are every HTTP request of the app's storage clients during the measured deliveries.",
            rows,
            new Dictionary<string, string>
            {
                ["deliveries"] = Deliveries.ToString(CultureInfo.InvariantCulture),
                ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
                ["storage"] = "Azurite (in memory) on loopback",
                ["pipeline wall time"] = $"{pipeline.TotalMilliseconds:0} ms",
                ["baseline wall time"] = $"{baseline.TotalMilliseconds:0} ms (HttpClient), {storageBound.TotalMilliseconds:0} ms (storage calls alone)",
            });
    }

    private static JsonObject Event(string text) => new()
    {
        ["messageId"] = Omni.Storage.Ids.New("msg"),
        ["conversationId"] = "cnv_bench",
        ["channelId"] = "chn_bench",
        ["direction"] = "outbound",
        ["text"] = text,
        ["contact"] = new JsonObject { ["externalId"] = "cust-42" },
        ["attachments"] = new JsonArray(),
    };

    private static async Task<TimeSpan> PipelineAsync(IWebhookPublisher publisher, Channel channel, CountingSink sink, TableClient deliveries, int count, string tag)
    {
        var before = sink.Count;
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, ct) =>
        {
            var data = Event($"{tag} #{i}");
            await publisher.PublishAsync(channel, WebhookEventTypes.MessageCreated, data, data["messageId"]!.GetValue<string>(), ct);
        });

        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (sink.Count - before < count || await PendingAsync(deliveries) > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Only {sink.Count - before} of {count} deliveries arrived within 5 minutes.");
            }

            await Task.Delay(10);
        }

        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task<int> PendingAsync(TableClient deliveries)
    {
        var pending = 0;
        await foreach (var _ in deliveries.QueryAsync<TableEntity>("Status eq 'pending'", select: ["RowKey"]))
        {
            pending++;
        }

        return pending;
    }

    /// <summary>What the storage emulator allows: per event the calls a delivery makes (insert, send, two reads, two replaces), with nothing else.</summary>
    private static async Task<TimeSpan> StorageBoundAsync(string connectionString, int count)
    {
        var table = new TableClient(connectionString, "BenchStorageBound");
        await table.CreateIfNotExistsAsync();
        var queue = new Azure.Storage.Queues.QueueClient(connectionString, "bench-storage-bound");
        await queue.CreateIfNotExistsAsync();
        var payload = new byte[600];
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, ct) =>
        {
            var entity = new TableEntity("p", i.ToString(CultureInfo.InvariantCulture)) { ["Payload"] = payload, ["Status"] = "pending" };
            await table.AddEntityAsync(entity, ct);
            await queue.SendMessageAsync("{\"deliveryId\":\"x\"}", ct);
            var read = await table.GetEntityAsync<TableEntity>("p", entity.RowKey, cancellationToken: ct);
            await table.GetEntityIfExistsAsync<TableEntity>("p", "channel", cancellationToken: ct);
            var claimed = await table.UpdateEntityAsync(read.Value, read.Value.ETag, TableUpdateMode.Replace, ct);
            read.Value["Status"] = "succeeded";
            await table.UpdateEntityAsync(read.Value, claimed.Headers.ETag!.Value, TableUpdateMode.Replace, ct);
        });
        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task<TimeSpan> BaselineAsync(HttpClient http, string url, byte[] body, int count)
    {
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (_, ct) =>
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await http.PostAsync(url, content, ct);
            response.EnsureSuccessStatusCode();
        });
        return Stopwatch.GetElapsedTime(started);
    }

    // Any public type of Omni.Functions names its entry point; Program itself clashes with this project's own.
    private sealed class BenchApp(string storage) : WebApplicationFactory<Omni.Functions.Hosting.TenantContext>
    {
        public StorageTransactionCounter? Counter { get; private set; }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in new Dictionary<string, string>
            {
                ["AzureWebJobsStorage"] = storage,
                ["Omni:AdminToken"] = "bench-admin-token-not-used-0123456789",
                ["Omni:SecretsKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Omni:Triggers:RunLocally"] = "true",
                ["Omni:Triggers:BatchSize"] = "32",
                ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
                ["Omni:Webhooks:AllowPrivateTargets"] = "true",
                ["Logging:LogLevel:Default"] = "Warning",
                // Azure.Core warns of every slow emulator response; the figures say it better.
                ["Logging:LogLevel:Azure"] = "Error",
            })
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureServices(s => Counter = StorageTransactionCounter.AttachTo(s));
        }
    }

    private sealed class CountingSink(WebApplication app) : IAsyncDisposable
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public string Url { get; private set; } = "";

        public static async Task<CountingSink> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var web = builder.Build();
            var sink = new CountingSink(web);
            web.MapPost("/hook", () =>
            {
                Interlocked.Increment(ref sink._count);
                return Results.StatusCode((int)HttpStatusCode.NoContent);
            });
            await web.StartAsync();
            var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            sink.Url = address.TrimEnd('/') + "/hook";
            return sink;
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }
}
