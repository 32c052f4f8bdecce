using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>
/// The app as its own OS process, SIGKILLed in the middle of a burst of agent replies on an omni channel and started
/// again: every reply that was stored (acknowledged with 202 or not) is sent and has its one webhook delivery, and no
/// delivery is left about a reply that was never stored. An omni reply stages its delivery before the message is
/// stored: the webhook sweep queues what a killed request stored but did not queue, and discards what it staged for a
/// message it never stored.
/// </summary>
public sealed class AgentMessageCrashTests : IAsyncLifetime
{
    private const int Replies = 40;
    private const int Concurrency = 8;
    private const int KillAfter = 20;

    private readonly string _admin = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
    private AzuriteProcess _storage = null!;

    // Storage of its own: the app runs the real queue functions on the real queue names.
    public async ValueTask InitializeAsync() => _storage = await AzuriteProcess.StartAsync();

    public async ValueTask DisposeAsync() => await _storage.DisposeAsync();

    [Fact]
    public async Task EveryReplyStoredBeforeAKillIsSentWithOneDeliveryAndNoDeliveryOutlivesAReplyNeverStored()
    {
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = _storage.ConnectionString,
            ["Omni__AdminToken"] = _admin,
            ["Omni__SecretsKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Omni__Triggers__FunctionsDirectory"] = FunctionsFolder.WithSchedules(("OutboxSweep", "*/5 * * * * *"), ("WebhookSweep", "*/5 * * * * *")),
            ["Omni__Conversations__OutboxGrace"] = "00:00:05",
            ["Omni__Webhooks__SweepGrace"] = "00:00:05",
            // A killed instance's messages come back and its send claims go stale in seconds, not the production minutes.
            ["Omni__Triggers__VisibilityTimeout"] = "00:00:10",
            ["Omni__Conversations__OutboundClaimTimeout"] = "00:00:10",
            ["Logging__LogLevel__Default"] = "Warning",
        };

        var first = await OmniProcess.StartAsync(environment);
        string companyId, key, channelId, conversationId;
        var acknowledged = new ConcurrentBag<string>();
        try
        {
            (companyId, key, channelId, conversationId) = await ArrangeAsync(first);
            using var agent = Client(first, key);
            var answered = 0;
            await Parallel.ForEachAsync(Enumerable.Range(0, Replies), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, cancellationToken) =>
            {
                try
                {
                    using var response = await agent.PostAsJsonAsync($"/api/companies/{companyId}/conversations/{conversationId}/messages", new { text = $"reply {i}" }, cancellationToken);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        acknowledged.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!["messageId"]!.GetValue<string>());
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }

                if (Interlocked.Increment(ref answered) == KillAfter)
                {
                    first.Kill();
                }
            });
        }
        finally
        {
            await first.DisposeAsync();
        }

        Assert.True(acknowledged.Count >= KillAfter / 2, $"Only {acknowledged.Count} replies were acknowledged before the kill.");

        await using var second = await OmniProcess.StartAsync(environment);
        using var client = Client(second, key);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        List<JsonObject> outbound;
        while (true)
        {
            var history = await ReadAsync(await client.GetAsync($"/api/companies/{companyId}/conversations/{conversationId}/messages?limit=200"), HttpStatusCode.OK);
            outbound = history["items"]!.AsArray().Select(m => m!.AsObject()).Where(m => m["direction"]!.GetValue<string>() == "outbound").ToList();
            if (outbound.All(m => m["status"]!.GetValue<string>() == "sent") || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.Empty(outbound.Where(m => m["status"]!.GetValue<string>() != "sent").Select(m => $"{m["id"]}: {m["status"]} {m["error"]}"));
        Assert.All(acknowledged, id => Assert.Contains(outbound, m => m["id"]!.GetValue<string>() == id));

        // One delivery per stored reply, and none about a reply that was not stored, once the sweep has looked.
        var stored = outbound.Select(m => m["id"]!.GetValue<string>()).Order().ToList();
        List<string> delivered;
        do
        {
            var page = await ReadAsync(await client.GetAsync($"/api/audit/deliveries?channelId={channelId}&limit=200"), HttpStatusCode.OK);
            delivered = page["items"]!.AsArray().Select(d => d!["messageId"]!.GetValue<string>()).Order().ToList();
            if (delivered.SequenceEqual(stored) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }
        while (true);

        Assert.Equal(stored, delivered);
    }

    private async Task<(string CompanyId, string Key, string ChannelId, string ConversationId)> ArrangeAsync(OmniProcess app)
    {
        using var admin = Client(app, _admin);
        var companyId = (await ReadAsync(await admin.PostAsJsonAsync("/api/companies", new { name = "Crash" }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var key = (await ReadAsync(await admin.PostAsJsonAsync($"/api/companies/{companyId}/management-keys", new { name = "ops", scopes = Arrange.AllScopes }), HttpStatusCode.Created))["key"]!.GetValue<string>();
        using var management = Client(app, key);
        var serviceId = (await ReadAsync(await management.PostAsJsonAsync($"/api/companies/{companyId}/services", new { name = "Suporte" }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var channelId = (await ReadAsync(await management.PostAsJsonAsync($"/api/companies/{companyId}/channels",
            new { type = "omni", name = "ERP", serviceId, settings = new { webhookUrl = "https://erp.example.com/hooks" } }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var apiKey = (await ReadAsync(await management.PostAsJsonAsync($"/api/companies/{companyId}/channels/{channelId}/api-keys", new { name = "erp" }), HttpStatusCode.Created))["key"]!.GetValue<string>();
        using var integrator = Client(app, apiKey);
        var received = await ReadAsync(await integrator.PostAsJsonAsync("/api/receive_hook",
            new { externalId = "erp-1", contact = new { externalId = "cust-42" }, text = "Meu pedido não chegou" }), HttpStatusCode.Accepted);
        return (companyId, key, channelId, received["conversationId"]!.GetValue<string>());
    }

    private static HttpClient Client(OmniProcess app, string token)
    {
        var client = new HttpClient { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    private static Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected) => Arrange.ReadAsync(response, expected);
}
