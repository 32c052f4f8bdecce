using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Benchmarks;

/// <summary>
/// end-to-end: an agent's reply (POST .../conversations/{id}/messages) until the integrator's webhook has it, through
/// the outbound queue, the sender, the webhook queue and the signed POST, with the app's own local trigger runner
/// (host.json's batch size and polling interval): storage requests per reply (every request of the app's clients,
/// queue receives and deletes included) against issue 11's target, and the wall time from the reply's request to
/// the webhook's arrival. Inbound mail → conversation message is measured by the email-ingest benchmark.
/// </summary>
internal static partial class EndToEndBenchmark
{
    private const int Concurrency = 8;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var (warmup, replies) = run.Quick ? (10, 30) : (40, 300);
        var azurite = await run.AzuriteAsync();
        await using var sink = await MarkedSink.StartAsync();
        var host = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "host.json")))!["extensions"]!["queues"]!;
        var batchSize = host["batchSize"]?.GetValue<int>() ?? 16;
        var polling = host["maxPollingInterval"]?.GetValue<string>() ?? "00:01:00";
        var app = run.Own(new BenchApp(azurite.ConnectionString, batchSize, polling));
        using var http = app.Client();
        var (managementKey, companyId, conversations) = await ArrangeAsync(app, http, sink.Url, Concurrency);
        var deliveries = new TableClient(azurite.ConnectionString, TableWebhookDeliveryStore.TableName);

        async Task<List<double>> RepliesAsync(int count, string tag)
        {
            var sent = new long[count];
            var failures = 0;
            await LoadGenerator.ClosedLoopAsync(count, Concurrency, async i =>
            {
                sent[i] = Stopwatch.GetTimestamp();
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/companies/{companyId}/conversations/{conversations[i % conversations.Count]}/messages")
                {
                    Content = JsonContent.Create(new { text = $"Chega amanhã [{tag}-{i}]" }),
                };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", managementKey);
                using var response = await http.SendAsync(request);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }

                return response.IsSuccessStatusCode;
            });
            if (failures > 0)
            {
                throw new InvalidOperationException($"{failures} replies were refused.");
            }

            var deadline = DateTime.UtcNow.AddMinutes(5);
            while (Enumerable.Range(0, count).Any(i => !sink.Arrivals.ContainsKey($"{tag}-{i}")) || await PendingAsync(deliveries) > 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"Not every reply reached the webhook within 5 minutes ({tag}).");
                }

                await Task.Delay(20);
            }

            return [.. Enumerable.Range(0, count).Select(i => (sink.Arrivals[$"{tag}-{i}"] - sent[i]) * 1000.0 / Stopwatch.Frequency)];
        }

        await RepliesAsync(warmup, "warm");
        app.Counter.Reset();
        var wall = Stopwatch.StartNew();
        var latencies = await RepliesAsync(replies, "run");
        wall.Stop();
        var counts = app.Counter.Snapshot();

        bool Idle(string key) => key.StartsWith("queue GET ", StringComparison.Ordinal) && !key.Contains("outbound-messages", StringComparison.Ordinal) && !key.Contains("webhook-deliveries", StringComparison.Ordinal);
        var perReply = counts.Where(c => !Idle(c.Key)).Sum(c => c.Value) / (double)replies;
        latencies.Sort();
        var rows = new List<BenchmarkRow>
        {
            new("storage requests per agent reply delivered to the webhook", perReply, "req", 8, "issue 11 target", TargetRatio: 1),
            new("reply request → webhook arrival p50", latencies[latencies.Count / 2], "ms"),
            new("reply request → webhook arrival p99", latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))], "ms"),
            new("replies delivered per second", replies / wall.Elapsed.TotalSeconds, "/s"),
        };
        rows.AddRange(counts.Where(c => !Idle(c.Key)).Select(c => new BenchmarkRow($"  {c.Key}", c.Value / (double)replies, "req")));
        rows.Add(new("idle polls of the other queues during the run (not per reply)", counts.Where(c => Idle(c.Key)).Sum(c => c.Value), "req"));
        return new BenchmarkReport("end-to-end", "An agent's reply until the integrator's webhook has it: storage requests and wall time per reply.", rows,
            new Dictionary<string, string>
            {
                ["load"] = $"{replies} replies after {warmup} warm-up ones, {Concurrency} in flight, over {conversations.Count} open conversations of an omni channel",
                ["triggers"] = $"the app's own local trigger runner, batchSize {batchSize}, maxPollingInterval {polling} (host.json)",
                ["sink"] = "a local Kestrel endpoint answering 204 at once",
                ["inbound mail → conversation message"] = "measured by the email-ingest benchmark (its figures are per ingested mail), not repeated here",
                ["machine"] = $"{Environment.ProcessorCount} cores shared with other engineers' builds and tests, {Environment.OSVersion}",
            });
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

    private static async Task<(string ManagementKey, string CompanyId, List<string> Conversations)> ArrangeAsync(BenchApp app, HttpClient http, string sinkUrl, int contacts)
    {
        Task<JsonObject> PostAsync(string path, object body, string token) => http.PostJsonAsync(path, body, token);

        var companyId = (await PostAsync("/api/companies", new { name = "Bench" }, app.AdminToken))["id"]!.GetValue<string>();
        var key = (await PostAsync($"/api/companies/{companyId}/management-keys", new { name = "bench", scopes = new[] { "channels:read", "channels:write", "keys:write", "conversations:read", "conversations:write" } }, app.AdminToken))["key"]!.GetValue<string>();
        var serviceId = (await PostAsync($"/api/companies/{companyId}/services", new { name = "Suporte" }, key))["id"]!.GetValue<string>();
        var channelId = (await PostAsync($"/api/companies/{companyId}/channels", new { type = "omni", name = "ERP", serviceId, settings = new { webhookUrl = sinkUrl } }, key))["id"]!.GetValue<string>();
        var apiKey = (await PostAsync($"/api/companies/{companyId}/channels/{channelId}/api-keys", new { name = "erp" }, key))["key"]!.GetValue<string>();
        var conversations = new List<string>();
        for (var c = 0; c < contacts; c++)
        {
            var received = await PostAsync("/api/receive_hook", new { externalId = $"in-{c}", contact = new { externalId = $"cust-{c}", name = "Maria" }, text = "Meu pedido não chegou" }, apiKey);
            conversations.Add(received["conversationId"]!.GetValue<string>());
        }

        return (key, companyId, conversations);
    }

    /// <summary>A local webhook sink answering 204 at once and noting when each marked reply arrived.</summary>
    private sealed partial class MarkedSink(WebApplication app) : IAsyncDisposable
    {
        public ConcurrentDictionary<string, long> Arrivals { get; } = new(StringComparer.Ordinal);

        public string Url { get; private set; } = "";

        [GeneratedRegex(@"\[(\w+-\d+)\]")]
        private static partial Regex Marker();

        public static async Task<MarkedSink> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var web = builder.Build();
            var sink = new MarkedSink(web);
            web.MapPost("/hook", async (HttpContext context) =>
            {
                using var reader = new StreamReader(context.Request.Body);
                var body = await reader.ReadToEndAsync(context.RequestAborted);
                var now = Stopwatch.GetTimestamp();
                if (Marker().Match(body) is { Success: true } match)
                {
                    sink.Arrivals.TryAdd(match.Groups[1].Value, now);
                }

                return Results.NoContent();
            });
            await web.StartAsync();
            sink.Url = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/hook";
            return sink;
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }

    // Any public type of Omni.Functions names its assembly; its Program clashes with this project's own.
    private sealed class BenchApp : WebApplicationFactory<Omni.Functions.Hosting.TenantContext>
    {
        private readonly string _storage;
        private readonly int _batchSize;
        private readonly string _polling;

        public BenchApp(string storage, int batchSize, string polling)
        {
            (_storage, _batchSize, _polling) = (storage, batchSize, polling);
            Port = Repository.FreeTcpPort();
            UseKestrel(Port);
        }

        public int Port { get; }

        public string AdminToken { get; } = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

        public StorageTransactionCounter Counter { get; private set; } = null!;

        public HttpClient Client()
        {
            StartServer();
            return new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}") };
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("AzureWebJobsStorage", _storage);
            builder.UseSetting("Omni:AdminToken", AdminToken);
            builder.UseSetting("Omni:SecretsKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            builder.UseSetting("Omni:Triggers:RunLocally", "true");
            // As in OmniApp: in-process, the idle trim would collect the whole benchmark, baseline included.
            builder.UseSetting("Omni:Memory:TrimWhenIdleFor", "00:00:00");
            builder.UseSetting("Omni:Triggers:BatchSize", _batchSize.ToString(CultureInfo.InvariantCulture));
            builder.UseSetting("Omni:Triggers:MaxPollingInterval", _polling);
            builder.UseSetting("Omni:Webhooks:AllowPrivateTargets", "true");
            builder.UseSetting("Logging:LogLevel:Default", "Warning");
            builder.UseSetting("Logging:LogLevel:Azure", "Error");
            builder.ConfigureLogging(logging => logging.ClearProviders());
            builder.ConfigureServices(services => Counter = StorageTransactionCounter.AttachTo(services));
        }
    }
}
