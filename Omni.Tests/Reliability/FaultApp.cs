using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Reliability;

/// <summary>
/// The real app as its own OS process (<see cref="OmniProcess"/>) for one fault scenario: the same environment on
/// every restart (so a restarted process reads what the killed one wrote), short retry delays so recovery fits in a
/// test, and the public API, as an integrator or agent would call it.
/// </summary>
public sealed class FaultApp : IAsyncDisposable
{
    private readonly Dictionary<string, string> _environment;

    private FaultApp(Dictionary<string, string> environment, OmniProcess process)
    {
        _environment = environment;
        Process = process;
    }

    public string AdminToken => _environment["Omni__AdminToken"];

    public OmniProcess Process { get; private set; }

    public static async Task<FaultApp> StartAsync(string storage, IReadOnlyDictionary<string, string>? more = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = storage,
            ["Omni__AdminToken"] = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)),
            ["Omni__SecretsKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            // A message a killed process held comes back within seconds, not the production five minutes.
            ["Omni__Triggers__VisibilityTimeout"] = "00:00:10",
            ["Omni__Triggers__RetryDelay"] = "00:00:01",
            ["Omni__Conversations__OutboundClaimTimeout"] = "00:00:05",
            // What a killed process stored but never handed on is swept in seconds, not the production minute.
            // So is what it staged for an omni reply: queued if the reply was stored, discarded if not.
            ["Omni__Triggers__FunctionsDirectory"] = FunctionsFolder.WithSchedules(("OutboxSweep", "*/5 * * * * *"), ("WebhookSweep", "*/5 * * * * *")),
            ["Omni__Conversations__OutboxGrace"] = "00:00:05",
            ["Omni__Webhooks__SweepGrace"] = "00:00:10",
            ["Omni__Conversations__OutboundRetryDelay"] = "00:00:01",
            ["Omni__Conversations__OutboundRetryMaxDelay"] = "00:00:03",
            ["Omni__Conversations__OutboundMaxAttempts"] = "12",
            ["Omni__Webhooks__AllowPrivateTargets"] = "true",
            ["Omni__Webhooks__AttemptTimeout"] = "00:00:02",
            ["Omni__Webhooks__RetrySchedule"] = "00:00:00,00:00:01,00:00:02,00:00:02,00:00:03,00:00:03,00:00:03,00:00:03,00:00:03,00:00:03",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return new FaultApp(environment, await OmniProcess.StartAsync(environment));
    }

    /// <summary>SIGKILL, then a new process with the same environment; returns how long the new one took to answer /api/health.</summary>
    public async Task<TimeSpan> KillAndRestartAsync()
    {
        Process.Kill();
        await Process.DisposeAsync();
        var started = Stopwatch.GetTimestamp();
        Process = await OmniProcess.StartAsync(_environment);
        return Stopwatch.GetElapsedTime(started);
    }

    public HttpClient As(string token, TimeSpan? timeout = null)
    {
        var client = new HttpClient { BaseAddress = Process.BaseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    public async Task<TestTenant> TenantAsync()
    {
        using var admin = As(AdminToken);
        var companyId = (await Arrange.ReadAsync(await admin.PostAsJsonAsync("/api/companies", new { name = "Faults" }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var key = (await Arrange.ReadAsync(await admin.PostAsJsonAsync($"/api/companies/{companyId}/management-keys", new { name = "ops", scopes = Arrange.AllScopes }), HttpStatusCode.Created))["key"]!.GetValue<string>();
        using var management = As(key);
        var serviceId = (await Arrange.ReadAsync(await management.PostAsJsonAsync($"/api/companies/{companyId}/services", new { name = "Suporte" }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        return new TestTenant(companyId, key, serviceId);
    }

    public async Task<string> ChannelAsync(TestTenant tenant, string type, object settings)
    {
        using var management = As(tenant.ManagementKey);
        var created = await Arrange.ReadAsync(await management.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels",
            new { type, name = "Canal", serviceId = tenant.ServiceId, settings }), HttpStatusCode.Created);
        return created["id"]!.GetValue<string>();
    }

    /// <summary>An omni channel whose webhook points at <paramref name="webhookUrl"/>, with an API key.</summary>
    public async Task<TestOmniChannel> OmniChannelAsync(TestTenant tenant, string webhookUrl)
    {
        var channelId = await ChannelAsync(tenant, "omni", new { webhookUrl });
        using var management = As(tenant.ManagementKey);
        var key = await Arrange.ReadAsync(await management.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/api-keys", new { name = "erp" }), HttpStatusCode.Created);
        return new TestOmniChannel(tenant, channelId, key["key"]!.GetValue<string>(), "");
    }

    /// <summary>Every item of a paged listing, following continuation tokens.</summary>
    public async Task<List<JsonObject>> ListAsync(string token, string path)
    {
        using var client = As(token);
        var items = new List<JsonObject>();
        string? continuation = null;
        var separator = path.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        do
        {
            var page = await Arrange.ReadAsync(await client.GetAsync(path + separator + "limit=200" + (continuation is null ? "" : "&continuationToken=" + Uri.EscapeDataString(continuation))), HttpStatusCode.OK);
            items.AddRange(page["items"]!.AsArray().Select(i => i!.AsObject()));
            continuation = page["continuationToken"]?.GetValue<string>();
        }
        while (continuation is not null);
        return items;
    }

    /// <summary>Every message of every conversation of the channel (both directions), through the agent's API.</summary>
    public async Task<List<JsonObject>> ChannelMessagesAsync(TestTenant tenant, string channelId)
    {
        var all = new List<JsonObject>();
        foreach (var conversation in await ListAsync(tenant.ManagementKey, $"/api/companies/{tenant.CompanyId}/conversations?channelId={channelId}"))
        {
            all.AddRange(await ListAsync(tenant.ManagementKey, $"/api/companies/{tenant.CompanyId}/conversations/{conversation["id"]!.GetValue<string>()}/messages"));
        }

        return all;
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}
