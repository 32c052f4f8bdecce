using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Azure;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Omni.Tests.Infrastructure;

namespace Omni.Benchmarks;

/// <summary>
/// receive_hook against the real app on Azurite at a fixed concurrency, beside a baseline that makes the same storage
/// calls per message directly with the Azure SDK (key lookup, routing read, one entity-group transaction) in the
/// same run; and the storage transactions per accepted message, counted on the app's own clients.
/// </summary>
internal static class ReceiveHookBenchmark
{
    private const int Concurrency = 16;
    private const int Warmup = 300;
    private const int Measured = 3000;
    private const int Contacts = 200;
    private const int ScenarioCalls = 100;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        var app = run.Own(new BenchApp(azurite.ConnectionString));
        var http = app.Client();
        var (apiKey, companyId) = await ArrangeAsync(app, http);
        var client = new HttpClient { BaseAddress = app.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);

        // Warm-up: JIT, connection pools, the channel cache, tables created, every contact's conversation opened.
        await MeasureAsync(Warmup, i => PostAsync(client, Body($"warm-{i}", $"cust-{i % Contacts}")));

        app.Counter.Reset();
        var product = await MeasureAsync(Measured, i => PostAsync(client, Body($"m-{i}", $"cust-{i % Contacts}")));
        var steady = app.Counter.Snapshot();

        var scenarios = new List<(string Name, double PerMessage, IReadOnlyDictionary<string, long> Breakdown)>
        {
            ("existing contact, open conversation", steady.Values.Sum() / (double)Measured, steady),
        };
        scenarios.Add(await ScenarioAsync(app, "new contact (opens a conversation)", i => PostAsync(client, Body($"new-{i}", $"new-{i}"))));
        // Each ticket is named once (the key is new), then again (the key names an open conversation).
        scenarios.Add(await ScenarioAsync(app, "first message naming a new conversationExternalId", i => PostAsync(client, Body($"tw-{i}", $"cust-{i % Contacts}", $"ticket-{i}"))));
        scenarios.Add(await ScenarioAsync(app, "conversationExternalId of an open conversation", i => PostAsync(client, Body($"t-{i}", $"cust-{i % Contacts}", $"ticket-{i}"))));
        scenarios.Add(await ScenarioAsync(app, "duplicate (same externalId and body, 200)", i => PostAsync(client, Body($"m-{i}", $"cust-{i % Contacts}"))));
        scenarios.Add(await ScenarioAsync(app, "one 2 KiB attachment", i => PostAsync(client, Body($"a-{i}", $"cust-{i % Contacts}", attachment: true))));

        var baseline = await BaselineAsync(azurite.ConnectionString, companyId);

        var rows = new List<BenchmarkRow>
        {
            new("throughput", product.Throughput, "req/s", baseline.Throughput, "direct SDK, same calls"),
            new("latency p50", product.P50, "ms", baseline.P50, "direct SDK, same calls"),
            new("latency p99", product.P99, "ms", baseline.P99, "direct SDK, same calls"),
            new("failed requests", product.Failures, "", null, null),
        };
        rows.AddRange(scenarios.Select(s => new BenchmarkRow($"storage transactions per message: {s.Name}", s.PerMessage, "tx", 3, "target")));

        var conditions = new Dictionary<string, string>
        {
            ["app"] = "Omni.Functions in-process on Kestrel (loopback HTTP), Azurite in memory, Release build",
            ["load"] = $"{Measured} receive_hook calls after {Warmup} warm-up, {Concurrency} in flight, {Contacts} contacts with open conversations",
            ["baseline"] = "per message: credential index point read, routing point read, one $batch of the same 5 rows, straight from the Azure SDK",
            ["machine"] = $"{Environment.ProcessorCount} cores, {RuntimeInformationText()}",
        };
        foreach (var (name, _, breakdown) in scenarios)
        {
            conditions[$"transactions ({name})"] = string.Join("; ", breakdown.Select(p => $"{p.Key}: {p.Value}"));
        }

        return new BenchmarkReport("receive-hook", "POST /api/receive_hook throughput and latency, and storage transactions per accepted message.", rows, conditions);
    }

    private static async Task<(string Name, double PerMessage, IReadOnlyDictionary<string, long> Breakdown)> ScenarioAsync(BenchApp app, string name, Func<int, Task<bool>> call)
    {
        app.Counter.Reset();
        var result = await MeasureAsync(ScenarioCalls, call);
        if (result.Failures > 0)
        {
            throw new InvalidOperationException($"Scenario '{name}': {result.Failures} calls failed.");
        }

        var snapshot = app.Counter.Snapshot();
        return (name, snapshot.Values.Sum() / (double)ScenarioCalls, snapshot.ToDictionary(p => p.Key, p => (long)Math.Round(p.Value / (double)ScenarioCalls * 100) / 100));
    }

    private static object Body(string externalId, string contact, string? conversationExternalId = null, bool attachment = false) => new
    {
        externalId,
        contact = new { externalId = contact, name = "Maria" },
        conversationExternalId,
        text = "Meu pedido não chegou, podem verificar? Order 4711",
        attachments = attachment ? new[] { new { fileName = "photo.jpg", contentType = "image/jpeg", contentBase64 = Convert.ToBase64String(new byte[2048]) } } : null,
        metadata = new { orderId = "4711" },
    };

    private static async Task<bool> PostAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/api/receive_hook", body);
        return response.IsSuccessStatusCode;
    }

    private sealed record Measurement(double Throughput, double P50, double P99, int Failures);

    private static async Task<Measurement> MeasureAsync(int count, Func<int, Task<bool>> call)
    {
        var latencies = new double[count];
        var failures = 0;
        var wall = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, _) =>
        {
            var started = Stopwatch.GetTimestamp();
            if (!await call(i))
            {
                Interlocked.Increment(ref failures);
            }

            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        });
        wall.Stop();
        Array.Sort(latencies);
        return new Measurement(count / wall.Elapsed.TotalSeconds, latencies[count / 2], latencies[Math.Min(count - 1, (int)(count * 0.99))], failures);
    }

    /// <summary>The storage floor: what receive_hook does to storage for one message, with nothing else around it.</summary>
    private static async Task<Measurement> BaselineAsync(string connectionString, string companyId)
    {
        var service = new TableServiceClient(connectionString);
        var index = service.GetTableClient("BaselineIndex");
        var table = service.GetTableClient("BaselineConversations");
        await index.CreateIfNotExistsAsync();
        await table.CreateIfNotExistsAsync();
        await index.UpsertEntityAsync(new TableEntity("keyhash", "") { ["Kind"] = "Channel", ["CompanyId"] = companyId, ["ChannelId"] = "chn_1", ["KeyId"] = "ck_1", ["Name"] = "erp" });
        for (var c = 0; c < Contacts; c++)
        {
            await table.UpsertEntityAsync(new TableEntity(companyId, $"o|chn_1|{c}") { ["ConversationId"] = $"cnv_{c}" });
            await table.UpsertEntityAsync(new TableEntity(companyId, $"c|cnv_{c}") { ["Status"] = "Open" });
        }

        async Task<bool> OneAsync(int i)
        {
            var contact = i % Contacts;
            await index.GetEntityIfExistsAsync<TableEntity>("keyhash", "");
            var route = await table.GetEntityAsync<TableEntity>(companyId, $"o|chn_1|{contact}");
            var messageId = $"msg_{Guid.CreateVersion7():N}";
            var now = DateTimeOffset.UtcNow;
            TableEntity Message(string rowKey) => new(companyId, rowKey)
            {
                ["MessageId"] = messageId, ["ConversationId"] = $"cnv_{contact}", ["ChannelId"] = "chn_1", ["Direction"] = "Inbound",
                ["ExternalId"] = $"m-{i}", ["Status"] = "Accepted", ["CreatedAt"] = now, ["Text"] = "Meu pedido não chegou, podem verificar? Order 4711"u8.ToArray(),
                ["Attachments"] = "[]"u8.ToArray(), ["Metadata"] = "{\"orderId\":\"4711\"}"u8.ToArray(),
            };
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await table.SubmitTransactionAsync(
                    [
                        new(TableTransactionActionType.Add, new TableEntity(companyId, $"i|chn_1|{i}|{attempt}") { ["MessageId"] = messageId, ["BodyHash"] = "h" }),
                        new(TableTransactionActionType.Add, Message($"m|cnv_{contact}|{messageId}")),
                        new(TableTransactionActionType.Add, Message($"a|chn_1|{messageId}")),
                        new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, route.Value.RowKey) { ["LastMessageAt"] = now }, route.Value.ETag),
                        new(TableTransactionActionType.UpdateMerge, new TableEntity(companyId, $"c|cnv_{contact}") { ["UpdatedAt"] = now }, ETag.All),
                    ]);
                    return true;
                }
                catch (TableTransactionFailedException ex) when (ex.Status == 412 && attempt < 8)
                {
                    route = await table.GetEntityAsync<TableEntity>(companyId, $"o|chn_1|{contact}");
                }
            }
        }

        await MeasureAsync(Warmup, OneAsync);
        return await MeasureAsync(Measured, i => OneAsync(Measured + i));
    }

    private static async Task<(string ApiKey, string CompanyId)> ArrangeAsync(BenchApp app, HttpClient http)
    {
        async Task<JsonObject> PostAsync(string path, object body, string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? JsonNode.Parse(text)!.AsObject() : throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {text}");
        }

        var companyId = (await PostAsync("/api/companies", new { name = "Bench" }, app.AdminToken))["id"]!.GetValue<string>();
        var key = (await PostAsync($"/api/companies/{companyId}/management-keys", new { name = "bench", scopes = new[] { "channels:read", "channels:write", "keys:write" } }, app.AdminToken))["key"]!.GetValue<string>();
        var serviceId = (await PostAsync($"/api/companies/{companyId}/services", new { name = "Suporte" }, key))["id"]!.GetValue<string>();
        var channelId = (await PostAsync($"/api/companies/{companyId}/channels", new { type = "omni", name = "ERP", serviceId, settings = new { webhookUrl = "https://erp.example.com/hooks" } }, key))["id"]!.GetValue<string>();
        return ((await PostAsync($"/api/companies/{companyId}/channels/{channelId}/api-keys", new { name = "erp" }, key))["key"]!.GetValue<string>(), companyId);
    }

    private static string RuntimeInformationText() =>
        string.Create(CultureInfo.InvariantCulture, $"{System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");

    /// <summary>The app on real Kestrel, with the transaction counter on its storage clients.</summary>
    // Any public type of Omni.Functions names its assembly; its Program clashes with this project's own.
    private sealed class BenchApp : WebApplicationFactory<Omni.Functions.Hosting.TenantContext>
    {
        private readonly string _storage;

        public BenchApp(string storage)
        {
            _storage = storage;
            Port = Repository.FreeTcpPort();
            UseKestrel(Port);
        }

        public int Port { get; }

        public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

        public string AdminToken { get; } = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

        public StorageTransactionCounter Counter { get; private set; } = null!;

        public HttpClient Client()
        {
            StartServer();
            return new HttpClient { BaseAddress = BaseAddress };
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("AzureWebJobsStorage", _storage);
            builder.UseSetting("Omni:AdminToken", AdminToken);
            builder.UseSetting("Omni:SecretsKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            builder.UseSetting("Omni:Triggers:RunLocally", "false");
            builder.ConfigureLogging(logging => logging.ClearProviders());
            builder.ConfigureServices(services => Counter = StorageTransactionCounter.AttachTo(services));
        }
    }
}
