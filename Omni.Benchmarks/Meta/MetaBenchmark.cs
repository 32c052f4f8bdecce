using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Omni.Meta;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Benchmarks.Meta;

/// <summary>
/// meta: what a WhatsApp message costs. (a) Signed text events POSTed to <c>/api/providers/meta/{channelId}</c> until
/// the MetaEvent function has stored every message; (b) agent messages on the resulting conversation until each is
/// <c>sent</c> (a local Graph fake accepted it); (c) receive_hook of the omni kind for as many messages, in the same
/// app and run, as the baseline. Storage transactions are counted on the app's own clients, split into what an HTTP
/// request made before its answer and what the queue functions made afterwards.
/// </summary>
internal static class MetaBenchmark
{
    private const int Messages = 200;
    private const int Warmup = 20;
    private const int Concurrency = 16;
    private const string Request = "request";
    // 16 in flight on one contact would measure conflict retries on its conversation row, not a message's cost.
    private const int Contacts = 20;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        using var authority = TestCertificateAuthority.Create();
        var graph = run.Own(await FakeMetaGraph.StartAsync(authority));
        var app = run.Own(new BenchApp(azurite.ConnectionString, graph.GraphBaseUrl, authority));
        var http = app.CreateClient();
        var admin = "bench-admin-token-not-used-0123456789";
        var tenant = await TenantAsync(http, admin);
        var metaChannel = await MetaChannelAsync(http, tenant);
        var omniKey = await OmniChannelKeyAsync(http, tenant);
        // Read without the counter, so watching for completion costs the measurement nothing.
        var rows = new TableClient(azurite.ConnectionString, "Conversations");
        var counter = app.Counter!;

        // Warm-up: JIT, connections, the channel caches, the contact's conversation opened, the send path once.
        await InboundAsync(http, metaChannel, rows, tenant.CompanyId, "warm", Warmup);
        var conversationId = await ConversationIdAsync(rows, tenant.CompanyId);
        await SendAsync(http, tenant, conversationId, rows, "warm", Warmup);
        await ReceiveHookAsync(http, omniKey, "warm", Warmup);

        counter.Reset();
        var inbound = await InboundAsync(http, metaChannel, rows, tenant.CompanyId, "run", Messages);
        var inboundCounts = counter.Snapshot();

        counter.Reset();
        var sent = await SendAsync(http, tenant, conversationId, rows, "run", Messages);
        var sendCounts = counter.Snapshot();

        counter.Reset();
        var hook = await ReceiveHookAsync(http, omniKey, "run", Messages);
        var hookCounts = counter.Snapshot();

        // The local trigger runner polls every queue and timer whether or not there is work; that is not a message's
        // cost (in Azure the Functions host polls, and bills nothing to the app's storage clients), so it is shown apart.
        var eventsQueue = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MetaInboundOptions>>().Value.EventsQueueName;
        var outboxQueues = new[] { "outbound", "outbox" };
        static bool Idle(string key, params string[] working) =>
            key.StartsWith("queue GET ", StringComparison.Ordinal) && !working.Any(w => key.StartsWith("queue GET " + w, StringComparison.Ordinal));
        double Per(IReadOnlyDictionary<string, long> counts, Func<string, bool> which) => counts.Where(c => which(c.Key)).Sum(c => c.Value) / (double)Messages;
        static bool Before(string key) => key.StartsWith($"[{Request}] ", StringComparison.Ordinal);

        var sendQueues = sendCounts.Keys.Where(k => k.StartsWith("queue DELETE ", StringComparison.Ordinal)).Select(k => k["queue DELETE ".Length..]).ToArray();
        bool InboundWork(string k) => !Idle(k, eventsQueue);
        bool SendWork(string k) => !Idle(k, sendQueues.Length > 0 ? sendQueues : outboxQueues);
        var hookTotal = Per(hookCounts, Before);
        var inboundTotal = Per(inboundCounts, InboundWork);
        var sendTotal = Per(sendCounts, SendWork);
        const string baseline = "receive_hook (omni), same run";

        var report = new List<BenchmarkRow>
        {
            new("inbound: storage transactions per message (all)", inboundTotal, "tx", hookTotal, baseline),
            new("inbound: before the 200", Per(inboundCounts, Before), "tx", hookTotal, baseline),
            new("inbound: processing (MetaEvent function)", Per(inboundCounts, k => !Before(k) && InboundWork(k)), "tx"),
            new("inbound: events per second, until stored", Messages / inbound.TotalSeconds, "/s", Messages / hook.TotalSeconds, baseline + " req/s"),
            new("send: storage transactions per message (all)", sendTotal, "tx", hookTotal, baseline),
            new("send: before the 202", Per(sendCounts, Before), "tx", hookTotal, baseline),
            new("send: sending (outbound function)", Per(sendCounts, k => !Before(k) && SendWork(k)), "tx"),
            new("send: sends per second, until sent", Messages / sent.TotalSeconds, "/s", Messages / hook.TotalSeconds, baseline + " req/s"),
            new("receive_hook: storage transactions per message", hookTotal, "tx"),
            new("Graph requests per send", (graph.Sends - Warmup) / (double)Messages, "requests"),
        };

        var conditions = new Dictionary<string, string>
        {
            ["app"] = "Omni.Functions in-process (TestServer), triggers run locally (batch 32, polling ≤ 200 ms), Azurite in memory, Release build",
            ["load"] = $"{Messages} of each after {Warmup} warm-up, {Concurrency} in flight; {Contacts} contacts with open conversations (inbound, receive_hook), sends on one of them",
            ["fake"] = "a local HTTPS Graph answering POST {phoneNumberId}/messages (Omni.Benchmarks/Meta/FakeMetaGraph.cs)",
            ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
            ["wall time"] = $"inbound {inbound.TotalMilliseconds:0} ms, send {sent.TotalMilliseconds:0} ms, receive_hook {hook.TotalMilliseconds:0} ms",
            ["transactions per inbound message"] = Breakdown(inboundCounts, InboundWork),
            ["transactions per send"] = Breakdown(sendCounts, SendWork),
            ["transactions per receive_hook message"] = Breakdown(hookCounts, Before),
            ["idle polling of the local trigger runner (not counted above)"] =
                $"inbound {Per(inboundCounts, k => !InboundWork(k)):0.##}, send {Per(sendCounts, k => !SendWork(k)):0.##} per message",
        };

        return new BenchmarkReport("meta",
            "WhatsApp on Meta's Cloud API: signed text events until stored, and agent sends until sent (local HTTPS Graph fake), " +
            "against receive_hook of the omni kind for as many messages in the same run. Storage transactions are every request of the " +
            "app's Table, Queue and Blob clients; [request] marks those made inside the HTTP request, before its answer.",
            report, conditions);

        string Breakdown(IReadOnlyDictionary<string, long> counts, Func<string, bool> which) =>
            string.Join("; ", counts.Where(c => which(c.Key)).Select(c => $"{c.Key}: {(c.Value / (double)Messages).ToString("0.##", CultureInfo.InvariantCulture)}"));
    }

    private sealed record Tenant(string CompanyId, string Key, string ServiceId);

    private sealed record MetaChannel(string Id, string AppSecret, string PhoneNumberId);

    private static async Task<TimeSpan> InboundAsync(HttpClient http, MetaChannel channel, TableClient rows, string companyId, string tag, int count)
    {
        var before = await CountAsync(rows, companyId, "Direction eq 'Inbound'");
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, ct) =>
        {
            var body = Encoding.UTF8.GetBytes(WhatsAppText(channel, $"wamid.{tag}{i}{Guid.NewGuid():N}", $"Meu pedido n\\u00e3o chegou #{i}", WaId(i)));
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/providers/meta/{channel.Id}") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(channel.AppSecret), body)));
            using var response = await http.SendAsync(request, ct);
            Ensure(response.IsSuccessStatusCode, $"Meta's POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        });
        await UntilAsync(async () => await CountAsync(rows, companyId, "Direction eq 'Inbound'") - before >= count, $"{count} inbound messages stored");
        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task<TimeSpan> SendAsync(HttpClient http, Tenant tenant, string conversationId, TableClient rows, string tag, int count)
    {
        var before = await CountAsync(rows, tenant.CompanyId, "Direction eq 'Outbound' and Status eq 'Sent'");
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages")
            {
                Content = JsonContent.Create(new { text = $"Olá, já verificamos seu pedido ({tag} {i})." }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tenant.Key);
            using var response = await http.SendAsync(request, ct);
            Ensure(response.IsSuccessStatusCode, $"send answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        });
        await UntilAsync(async () => await CountAsync(rows, tenant.CompanyId, "Direction eq 'Outbound' and Status eq 'Sent'") - before >= count, $"{count} sends sent");
        var failed = await CountAsync(rows, tenant.CompanyId, "Direction eq 'Outbound' and Status eq 'Failed'");
        Ensure(failed == 0, $"{failed} sends failed");
        return Stopwatch.GetElapsedTime(started);
    }

    private static async Task<TimeSpan> ReceiveHookAsync(HttpClient http, string apiKey, string tag, int count)
    {
        var started = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/receive_hook")
            {
                Content = JsonContent.Create(new { externalId = $"{tag}-{i}", contact = new { externalId = $"cust-{i % Contacts}", name = "Maria" }, text = $"Meu pedido não chegou #{i}" }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await http.SendAsync(request, ct);
            Ensure(response.IsSuccessStatusCode, $"receive_hook answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        });
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>A WhatsApp change with one text message, as Meta writes it (compact, non-ASCII escaped).</summary>
    private static string WhatsAppText(MetaChannel channel, string wamid, string text, string waId) =>
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"waba-bench\",\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\"," +
        $"\"metadata\":{{\"display_phone_number\":\"5511987654321\",\"phone_number_id\":\"{channel.PhoneNumberId}\"}}," +
        $"\"contacts\":[{{\"profile\":{{\"name\":\"Jo\\u00e3o\"}},\"wa_id\":\"{waId}\"}}]," +
        $"\"messages\":[{{\"from\":\"{waId}\",\"id\":\"{wamid}\",\"timestamp\":\"1764590000\",\"type\":\"text\",\"text\":{{\"body\":\"{text}\"}}}}]" +
        "},\"field\":\"messages\"}]}]}";

    private static string WaId(int i) => "55119888800" + (i % Contacts).ToString("00", CultureInfo.InvariantCulture);

    private static async Task<int> CountAsync(TableClient rows, string companyId, string filter)
    {
        var count = 0;
        await foreach (var _ in rows.QueryAsync<TableEntity>($"PartitionKey eq '{companyId}' and RowKey ge 'm|' and RowKey lt 'm}}' and {filter}", select: ["RowKey"]))
        {
            count++;
        }

        return count;
    }

    private static async Task<string> ConversationIdAsync(TableClient rows, string companyId)
    {
        await foreach (var row in rows.QueryAsync<TableEntity>($"PartitionKey eq '{companyId}' and RowKey ge 'c|' and RowKey lt 'c}}'"))
        {
            return row.RowKey[2..];
        }

        throw new InvalidOperationException("The warm-up opened no conversation.");
    }

    private static async Task UntilAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (!await done())
        {
            Ensure(DateTime.UtcNow < deadline, $"Not {what} within 5 minutes.");
            await Task.Delay(20);
        }
    }

    private static void Ensure(bool condition, string failure)
    {
        if (!condition)
        {
            throw new InvalidOperationException(failure);
        }
    }

    private static Task<JsonObject> PostAsync(HttpClient http, string path, object body, string token) => http.PostJsonAsync(path, body, token);

    private static async Task<Tenant> TenantAsync(HttpClient http, string admin)
    {
        var companyId = (await PostAsync(http, "/api/companies", new { name = "Bench" }, admin))["id"]!.GetValue<string>();
        var key = (await PostAsync(http, $"/api/companies/{companyId}/management-keys",
            new { name = "bench", scopes = new[] { "channels:read", "channels:write", "keys:write", "conversations:read", "conversations:write", "settings:general" } }, admin))["key"]!.GetValue<string>();
        var serviceId = (await PostAsync(http, $"/api/companies/{companyId}/services", new { name = "Suporte" }, key))["id"]!.GetValue<string>();
        return new Tenant(companyId, key, serviceId);
    }

    private static async Task<MetaChannel> MetaChannelAsync(HttpClient http, Tenant tenant)
    {
        var appSecret = "app-secret-" + Guid.NewGuid().ToString("N");
        var phoneNumberId = "1065" + RandomNumberGenerator.GetInt32(10_000_000, 99_999_999).ToString(CultureInfo.InvariantCulture);
        var channel = await PostAsync(http, $"/api/companies/{tenant.CompanyId}/channels", new
        {
            type = "whatsapp", name = "WhatsApp", serviceId = tenant.ServiceId,
            settings = new
            {
                provider = "meta", number = "5511987654321", phoneNumberId, businessAccountId = "waba-bench", accessToken = "EAAG" + Guid.NewGuid().ToString("N"),
                appSecret, verifyToken = "verify-" + Guid.NewGuid().ToString("N"), expirationMinutes = 1440, returnToBot = false, hsm = false, hsmOpensConversation = false,
            },
        }, tenant.Key);
        return new MetaChannel(channel["id"]!.GetValue<string>(), appSecret, phoneNumberId);
    }

    private static async Task<string> OmniChannelKeyAsync(HttpClient http, Tenant tenant)
    {
        var channelId = (await PostAsync(http, $"/api/companies/{tenant.CompanyId}/channels",
            new { type = "omni", name = "ERP", serviceId = tenant.ServiceId, settings = new { webhookUrl = "https://erp.example.com/hooks" } }, tenant.Key))["id"]!.GetValue<string>();
        return (await PostAsync(http, $"/api/companies/{tenant.CompanyId}/channels/{channelId}/api-keys", new { name = "erp" }, tenant.Key))["key"]!.GetValue<string>();
    }

    // Any public type of Omni.Functions names its entry point; Program itself clashes with this project's own.
    private sealed class BenchApp(string storage, string graphBaseUrl, TestCertificateAuthority authority) : WebApplicationFactory<Omni.Functions.Hosting.TenantContext>
    {
        public StorageTransactionCounter? Counter { get; private set; }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in new Dictionary<string, string>
            {
                ["AzureWebJobsStorage"] = storage,
                ["Omni:AdminToken"] = "bench-admin-token-not-used-0123456789",
                ["Omni:SecretsKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
                ["Omni:Triggers:RunLocally"] = "true",
                ["Omni:Triggers:BatchSize"] = "32",
                ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
                ["Omni:Meta:GraphBaseUrl"] = graphBaseUrl,
                ["Logging:LogLevel:Default"] = "Warning",
                // Azure.Core warns of every slow emulator response; the figures say it better.
                ["Logging:LogLevel:Azure"] = "Error",
            })
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureServices(services =>
            {
                Counter = StorageTransactionCounter.AttachTo(services);
                services.AddHttpClient(MetaGraphClient.HttpClientName).ConfigurePrimaryHttpMessageHandler(authority.CreateTrustingHandler);
                services.AddTransient<IStartupFilter, RequestPhase>();
            });
        }
    }

    /// <summary>Marks the storage calls an HTTP request makes before its answer, apart from the queue functions' work.</summary>
    private sealed class RequestPhase : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, following) =>
            {
                StorageTransactionCounter.Phase = Request;
                await following(context);
            });
            next(app);
        };
    }
}
