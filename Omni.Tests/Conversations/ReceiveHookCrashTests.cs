using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>
/// The app as its own OS process, killed (SIGKILL) in the middle of a burst of receive_hook calls and started again:
/// every call that was acknowledged is in the history exactly once, and retrying the others creates no duplicate.
/// </summary>
public sealed class ReceiveHookCrashTests(AzuriteFixture azurite)
{
    private const int Calls = 1000;
    private const int Concurrency = 16;
    private const int KillAfter = 350;

    private readonly string _adminToken = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
    private readonly string _secretsKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static object Body(int i) => new { externalId = $"crash-{i}", contact = new { externalId = $"cust-{i % 40}" }, text = $"message {i}" };

    [Fact]
    public async Task EveryAcknowledgedMessageSurvivesAKillExactlyOnceAndRetriesAddNoDuplicates()
    {
        var port = Repository.FreeTcpPort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var app = await AppProcess.StartAsync(azurite.ConnectionString, _adminToken, _secretsKey, port);
        string apiKey;
        try
        {
            apiKey = await ArrangeChannelAsync(http);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        // The burst: the process is killed once KillAfter calls have answered, with others still in flight.
        var acknowledged = new ConcurrentDictionary<int, string>();
        var failed = new ConcurrentBag<int>();
        var answered = 0;
        var killed = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, Calls), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, cancellationToken) =>
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/receive_hook") { Content = JsonContent.Create(Body(i)) };
                request.Headers.Authorization = new("Bearer", apiKey);
                using var response = await http.SendAsync(request, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    acknowledged[i] = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!["messageId"]!.GetValue<string>();
                }
                else
                {
                    failed.Add(i);
                }
            }
            catch (HttpRequestException)
            {
                failed.Add(i);
            }
            catch (TaskCanceledException)
            {
                failed.Add(i);
            }

            if (Interlocked.Increment(ref answered) == KillAfter && Interlocked.Exchange(ref killed, 1) == 0)
            {
                app.Kill();
            }
        });
        await app.DisposeAsync();
        Assert.True(killed == 1, "The process was never killed.");
        Assert.True(acknowledged.Count >= KillAfter / 2, $"Only {acknowledged.Count} calls were acknowledged before the kill.");
        Assert.NotEmpty(failed);

        await using var restarted = await AppProcess.StartAsync(azurite.ConnectionString, _adminToken, _secretsKey, port);
        var afterRestart = await AuditAsync(http, apiKey);
        foreach (var (i, messageId) in acknowledged)
        {
            var found = afterRestart.Where(m => m.ExternalId == $"crash-{i}").ToList();
            Assert.True(found.Count == 1 && found[0].Id == messageId, $"crash-{i} was acknowledged as {messageId} but history holds {found.Count} copies.");
        }

        // An integrator retries what failed, with the same externalId and body.
        var retries = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(failed, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, cancellationToken) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/receive_hook") { Content = JsonContent.Create(Body(i)) };
            request.Headers.Authorization = new("Bearer", apiKey);
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.StatusCode is not (HttpStatusCode.Accepted or HttpStatusCode.OK))
            {
                retries.Add($"crash-{i}: {(int)response.StatusCode}");
            }
        });
        Assert.Empty(retries);
        var final = await AuditAsync(http, apiKey);
        Assert.Equal(Calls, final.Count);
        Assert.Equal(Calls, final.Select(m => m.ExternalId).Distinct().Count());
        Assert.All(acknowledged, a => Assert.Contains(final, m => m.Id == a.Value));
    }

    private async Task<string> ArrangeChannelAsync(HttpClient http)
    {
        var admin = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _adminToken);
        async Task<JsonObject> PostAsync(string path, object body, System.Net.Http.Headers.AuthenticationHeaderValue auth, HttpStatusCode expected)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = auth;
            return await Arrange.ReadAsync(await http.SendAsync(request), expected);
        }

        var companyId = (await PostAsync("/api/companies", new { name = "Crash" }, admin, HttpStatusCode.Created))["id"]!.GetValue<string>();
        var key = (await PostAsync($"/api/companies/{companyId}/management-keys", new { name = "ops", scopes = Arrange.AllScopes }, admin, HttpStatusCode.Created))["key"]!.GetValue<string>();
        var management = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        var serviceId = (await PostAsync($"/api/companies/{companyId}/services", new { name = "Suporte" }, management, HttpStatusCode.Created))["id"]!.GetValue<string>();
        var channelId = (await PostAsync($"/api/companies/{companyId}/channels",
            new { type = "omni", name = "ERP", serviceId, settings = new { webhookUrl = "https://erp.example.com/hooks" } }, management, HttpStatusCode.Created))["id"]!.GetValue<string>();
        return (await PostAsync($"/api/companies/{companyId}/channels/{channelId}/api-keys", new { name = "erp" }, management, HttpStatusCode.Created))["key"]!.GetValue<string>();
    }

    private static async Task<List<(string Id, string ExternalId)>> AuditAsync(HttpClient http, string apiKey)
    {
        var items = new List<(string, string)>();
        string? token = null;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/audit/messages?limit=200" + (token is null ? "" : $"&continuationToken={token}"));
            request.Headers.Authorization = new("Bearer", apiKey);
            var page = await Arrange.ReadAsync(await http.SendAsync(request), HttpStatusCode.OK);
            items.AddRange(page["items"]!.AsArray().Select(m => (m!["id"]!.GetValue<string>(), m["externalId"]!.GetValue<string>())));
            token = page["continuationToken"]?.GetValue<string>();
        }
        while (token is not null);

        return items;
    }

    /// <summary><c>dotnet Omni.Functions.dll</c> from the build output, configured only by environment, as the Functions host would start it.</summary>
    private sealed class AppProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _output = new();

        private AppProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => Keep(e.Data);
            process.ErrorDataReceived += (_, e) => Keep(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public static async Task<AppProcess> StartAsync(string storage, string adminToken, string secretsKey, int port)
        {
            var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var dll = Path.Combine(Repository.Root, "Omni.Functions", "bin", output.Parent!.Name, output.Name, "Omni.Functions.dll");
            if (!File.Exists(dll))
            {
                throw new InvalidOperationException($"Omni.Functions is not built at {dll}; build the solution in the configuration the tests run in.");
            }

            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", [dll])
            {
                WorkingDirectory = Path.GetDirectoryName(dll)!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment["AzureWebJobsStorage"] = storage;
            start.Environment["Omni__AdminToken"] = adminToken;
            start.Environment["Omni__SecretsKey"] = secretsKey;
            start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            var app = new AppProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start."));

            using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                if (app._process.HasExited)
                {
                    break;
                }

                try
                {
                    if ((await probe.GetAsync($"http://127.0.0.1:{port}/api/health")).IsSuccessStatusCode)
                    {
                        return app;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }

                await Task.Delay(100);
            }

            var log = string.Join("\n", app._output.TakeLast(30));
            await app.DisposeAsync();
            throw new InvalidOperationException($"Omni.Functions did not answer /api/health on port {port}. Its last output:\n{log}");
        }

        /// <summary>SIGKILL: no shutdown hooks, no flushing, exactly what a crashed instance does.</summary>
        public void Kill() => _process.Kill(entireProcessTree: true);

        public ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }

            _process.Dispose();
            return ValueTask.CompletedTask;
        }

        private void Keep(string? line)
        {
            if (line is not null)
            {
                _output.Enqueue(line);
                while (_output.Count > 200)
                {
                    _output.TryDequeue(out _);
                }
            }
        }
    }
}
