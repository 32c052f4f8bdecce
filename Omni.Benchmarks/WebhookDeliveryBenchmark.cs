using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Benchmarks;

/// <summary>
/// webhook-delivery: events published with IWebhookPublisher while the queue listener is stopped, then the product's
/// own local trigger runner started and timed until every delivery is recorded (DeliverWebhook: read, claim, signed
/// POST, record, delete), beside a minimal durable delivery of the same number of queued events over the same sink
/// (receive, POST, one Merge, delete) with the host's batch rule. Both read batches of host.json's batchSize and
/// fetch the next one when half are done; the sink answers after 0, 50 or 200 ms. Storage requests per delivery are
/// counted on the app's own clients, publish included.
/// </summary>
internal static class WebhookDeliveryBenchmark
{
    private static readonly int[] SinkLatencies = [0, 50, 200];

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var deliveries = run.Quick ? 48 : 400;
        var batchSize = HostBatchSize();
        var azurite = await run.AzuriteAsync();
        await using var sink = await CountingSink.StartAsync();
        await using var app = new BenchApp(azurite.ConnectionString, batchSize);
        var services = app.Services;
        var counter = app.Counter!;
        var publisher = services.GetRequiredService<IWebhookPublisher>();
        var channel = await services.GetRequiredService<IChannelStore>().CreateAsync(
            new Channel("chn_bench", "cmp_bench", ChannelTypes.Omni, "bench", "svc_bench", new JsonObject { ["webhookUrl"] = sink.Url }, new Dictionary<string, string>(), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow),
            new Dictionary<string, string> { [WebhookSecrets.CurrentField] = WebhookSecrets.New() });
        // Read without the counter, so watching for completion costs the measurement nothing.
        var table = new TableClient(azurite.ConnectionString, TableWebhookDeliveryStore.TableName);
        var minimal = new MinimalDelivery(azurite.ConnectionString, sink, batchSize);
        await minimal.PrepareAsync();

        // Warm-up of both sides (JIT, pools, tables and queues created).
        await ProductAsync(app, publisher, channel, sink, table, Math.Min(deliveries, 32), "warm");
        await minimal.RunAsync(Math.Min(deliveries, 32));

        var rows = new List<BenchmarkRow>();
        var conditions = new Dictionary<string, string>();
        IReadOnlyDictionary<string, long>? counts = null;
        // Rounds per latency alternate which side goes first, so drift on the shared machine does not favour one;
        // the figure is the median of the rounds' rates.
        var rounds = run.Quick ? 1 : 3;
        var turn = 0;
        foreach (var latency in SinkLatencies)
        {
            sink.Latency = TimeSpan.FromMilliseconds(latency);
            var (product, baseline) = (new List<double>(), new List<double>());
            for (var round = 0; round < rounds; round++, turn++)
            {
                foreach (var productSide in turn % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    if (productSide)
                    {
                        counter.Reset();
                        product.Add(deliveries / (await ProductAsync(app, publisher, channel, sink, table, deliveries, $"run{latency}-{round}")).TotalSeconds);
                        counts ??= counter.Snapshot();
                    }
                    else
                    {
                        baseline.Add(deliveries / (await minimal.RunAsync(deliveries)).TotalSeconds);
                    }
                }
            }

            rows.Add(new($"deliveries per second, sink answering in {latency} ms", Median(product), "/s",
                Median(baseline), "minimal durable delivery", TargetRatio: latency == 50 ? 0.8 : null, HigherIsBetter: true));
            conditions[$"rates at {latency} ms (each round)"] = string.Create(CultureInfo.InvariantCulture,
                $"product {string.Join(", ", product.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))} /s; minimal {string.Join(", ", baseline.Select(r => r.ToString("0", CultureInfo.InvariantCulture)))} /s");
        }

        var queue = services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName;
        bool Trigger(string key) => key.StartsWith("queue GET " + queue, StringComparison.Ordinal) || key.StartsWith("queue DELETE " + queue, StringComparison.Ordinal);
        // The runner's other listeners (their queues created at its start, then idle polls) are not the delivery's cost.
        bool OtherQueuePolling(string key) => key.StartsWith("queue ", StringComparison.Ordinal) && !key.StartsWith($"queue {key.Split(' ')[1]} {queue}", StringComparison.Ordinal)
            || key == $"queue PUT {queue}-poison";
        var measured = counts!.Where(c => !OtherQueuePolling(c.Key)).ToList();
        double PerDelivery(Func<string, bool> which) => measured.Where(c => which(c.Key)).Sum(c => c.Value) / (double)deliveries;
        rows.Add(new("storage requests per delivery (publish + attempt + the trigger's receive/delete)", PerDelivery(_ => true), "req", 4, "issue 11 target", TargetRatio: 1));
        rows.Add(new("  of which the trigger's receive + delete (the host's in Azure)", PerDelivery(Trigger), "req"));
        rows.Add(new("storage requests per delivery, minimal durable delivery", MinimalDelivery.RequestsPerDelivery(batchSize), "req"));
        rows.AddRange(measured.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => new BenchmarkRow($"  {c.Key}", c.Value / (double)deliveries, "req")));

        conditions["deliveries"] = $"{deliveries} per side and round, {rounds} rounds per sink latency (median), after a warm-up of each side";
        conditions["batches"] = $"batchSize {batchSize} (host.json), next batch when {LocalTriggerRunner.NewBatchThreshold(batchSize)} or fewer are in flight (the host's newBatchThreshold on one core), on both sides";
        conditions["product"] = "events published with IWebhookPublisher (row + queue message) while no listener runs, then the app's LocalTriggerRunner started";
        conditions["clock"] = "on both sides from the sink's first request of the round to the last delivery recorded (the runner's start, creating its queues, is left out)";
        conditions["minimal durable delivery"] = "the same number of queued events (the event in the message, its row already written): receive a batch, per message POST the body to the sink, one Merge of its row, delete the message";
        conditions["sink"] = "a local Kestrel endpoint answering 204 after the stated latency";
        conditions["storage"] = "Azurite (in memory) on loopback";
        conditions["machine"] = $"{Environment.ProcessorCount} cores shared with other engineers' builds and tests, {Environment.OSVersion}";
        return new BenchmarkReport("webhook-delivery",
            "Signed webhook deliveries through the product's queue function and local trigger runner, against a minimal durable delivery with the same batching, at three sink latencies; and what each delivery costs in storage requests.",
            rows, conditions);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>host.json's extensions.queues.batchSize (the host's default 16 when unset).</summary>
    private static int HostBatchSize()
    {
        var host = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "host.json")))!;
        return host["extensions"]?["queues"]?["batchSize"]?.GetValue<int>() ?? 16;
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

    /// <summary>Publishes <paramref name="count"/> events with no listener running, then times the app's own runner delivering them all.</summary>
    private static async Task<TimeSpan> ProductAsync(BenchApp app, IWebhookPublisher publisher, Channel channel, CountingSink sink, TableClient deliveries, int count, string tag)
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var data = Event($"{tag} #{i}");
            await publisher.PublishAsync(channel, WebhookEventTypes.MessageCreated, data, data["messageId"]!.GetValue<string>(), ct);
        });

        var before = sink.Count;
        var services = app.Services;
        using var runner = new LocalTriggerRunner(
            services.GetRequiredService<FunctionCatalog>(), services.GetRequiredService<IOptions<TriggerRegistry>>(), services.GetRequiredService<IOptions<TriggerOptions>>(),
            services.GetRequiredService<QueueServiceClient>(), services.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System,
            services.GetRequiredService<WorkInFlight>(), services.GetRequiredService<ILogger<LocalTriggerRunner>>());
        sink.Arm();
        await runner.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (sink.Count - before < count || await PendingAsync(deliveries) > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Only {sink.Count - before} of {count} deliveries arrived within 5 minutes.");
            }

            await Task.Delay(sink.Count - before < count ? 5 : 1);
        }

        var elapsed = Stopwatch.GetElapsedTime(sink.FirstHit);
        await runner.StopAsync(CancellationToken.None);
        return elapsed;
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

    /// <summary>
    /// The least a durable delivery can do: the event is in the queue message and its row exists; receive a batch,
    /// POST each body, one Merge marking its row delivered, delete the message. The next batch is fetched when half
    /// of the current one is done, as the host does, so the two sides keep the same number of deliveries in flight.
    /// </summary>
    private sealed class MinimalDelivery(string connectionString, CountingSink sink, int batchSize)
    {
        private readonly CountingSink _sink = sink;
        private readonly QueueClient _queue = new(connectionString, "bench-minimal-delivery");
        private readonly TableClient _table = new(connectionString, "BenchMinimalDelivery");
        private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false });
        private int _serial;

        /// <summary>Per delivery: its Merge and delete, and its share of one receive per batch.</summary>
        public static double RequestsPerDelivery(int batchSize) => 2 + (1.0 / batchSize);

        public async Task PrepareAsync()
        {
            await _queue.CreateIfNotExistsAsync();
            await _table.CreateIfNotExistsAsync();
        }

        public async Task<TimeSpan> RunAsync(int count)
        {
            // The publish side, outside the clock: the row and the queue message, as the product's publisher writes them.
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
            {
                var id = Interlocked.Increment(ref _serial).ToString("D8", CultureInfo.InvariantCulture);
                var body = Event("minimal #" + id);
                body["deliveryId"] = id;
                await _table.AddEntityAsync(new TableEntity("d", id) { ["Status"] = "pending" }, ct);
                await _queue.SendMessageAsync(body.ToJsonString(), ct);
            });

            var done = 0;
            _sink.Arm();
            var inFlight = new HashSet<Task>();
            var threshold = LocalTriggerRunner.NewBatchThreshold(batchSize);
            while (Volatile.Read(ref done) < count)
            {
                inFlight.RemoveWhere(t => t.IsCompleted);
                if (inFlight.Count > threshold)
                {
                    await Task.WhenAny(inFlight);
                    continue;
                }

                var batch = (await _queue.ReceiveMessagesAsync(batchSize, TimeSpan.FromMinutes(1))).Value;
                if (batch.Length == 0)
                {
                    if (inFlight.Count > 0)
                    {
                        await Task.WhenAny(inFlight);
                    }

                    continue;
                }

                foreach (var message in batch)
                {
                    inFlight.Add(DeliverAsync(message, () => Interlocked.Increment(ref done)));
                }
            }

            var elapsed = Stopwatch.GetElapsedTime(_sink.FirstHit);
            await Task.WhenAll(inFlight);
            return elapsed;
        }

        private async Task DeliverAsync(QueueMessage message, Action delivered)
        {
            var id = JsonNode.Parse(message.MessageText)!["deliveryId"]!.GetValue<string>();
            using (var content = new StringContent(message.MessageText, System.Text.Encoding.UTF8, "application/json"))
            using (var response = await _http.PostAsync(_sink.Url, content))
            {
                response.EnsureSuccessStatusCode();
            }

            await _table.UpdateEntityAsync(new TableEntity("d", id) { ["Status"] = "delivered", ["DeliveredAt"] = DateTimeOffset.UtcNow }, ETag.All, TableUpdateMode.Merge);
            await _queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            delivered();
        }
    }

    // Any public type of Omni.Functions names its entry point; Program itself clashes with this project's own.
    private sealed class BenchApp(string storage, int batchSize) : WebApplicationFactory<Omni.Functions.Hosting.TenantContext>
    {
        public StorageTransactionCounter? Counter { get; private set; }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in new Dictionary<string, string>
            {
                ["AzureWebJobsStorage"] = storage,
                ["Omni:AdminToken"] = "bench-admin-token-not-used-0123456789",
                ["Omni:SecretsKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                // The benchmark starts the app's runner itself once the events are queued, so the clock sees only delivery.
                ["Omni:Triggers:RunLocally"] = "false",
                ["Omni:Triggers:BatchSize"] = batchSize.ToString(CultureInfo.InvariantCulture),
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
        private long _latencyTicks;
        private long _firstHit;

        /// <summary>Starts a round: the next request's arrival is its clock's start.</summary>
        public void Arm() => Interlocked.Exchange(ref _firstHit, 0);

        /// <summary>When the first request of the round arrived (a Stopwatch timestamp).</summary>
        public long FirstHit => Interlocked.Read(ref _firstHit);

        public int Count => Volatile.Read(ref _count);

        public TimeSpan Latency
        {
            get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyTicks));
            set => Interlocked.Exchange(ref _latencyTicks, value.Ticks);
        }

        public string Url { get; private set; } = "";

        public static async Task<CountingSink> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var web = builder.Build();
            var sink = new CountingSink(web);
            web.MapPost("/hook", async (HttpContext context) =>
            {
                if (sink.Latency > TimeSpan.Zero)
                {
                    await Task.Delay(sink.Latency, context.RequestAborted);
                }

                Interlocked.CompareExchange(ref sink._firstHit, Stopwatch.GetTimestamp(), 0);
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
