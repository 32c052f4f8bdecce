using System.Diagnostics;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Reliability;

/// <summary>
/// Scenario 1: the app SIGKILLed in the middle of a burst of receive_hook calls and started again. Every acknowledged
/// message is stored exactly once, and the integrator's retries of the rest (same externalId) add no second copy.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class ReceiveHookKillTests : IAsyncLifetime
{
    private AzuriteProcess _storage = null!;

    public async ValueTask InitializeAsync() => _storage = await AzuriteProcess.StartAsync();

    public async ValueTask DisposeAsync() => await _storage.DisposeAsync();

    [Fact]
    public async Task KillingTheAppMidBurstLosesNoAcknowledgedMessageAndStoresNoneTwice()
    {
        var calls = ReliabilityRun.Size(200);
        var killAfter = calls * 2 / 5;
        await using var app = await FaultApp.StartAsync(_storage.ConnectionString);
        var channel = await app.OmniChannelAsync(await app.TenantAsync(), "http://127.0.0.1:9/unused");
        object Body(int i) => new { externalId = $"kill-{i}", contact = new { externalId = $"cust-{i % 20}" }, text = $"message {i}" };

        var killed = new TaskCompletionSource();
        List<Answer> answers;
        using (var client = app.As(channel.ApiKey, TimeSpan.FromSeconds(20)))
        {
            answers = await Burst.RunAsync(calls, 16, i => Burst.Post("/api/receive_hook", Body(i), channel.ApiKey), client, n =>
            {
                if (n == killAfter)
                {
                    app.Process.Kill();
                    killed.SetResult();
                }
            });
        }

        var restart = await app.KillAndRestartAsync();
        var acknowledged = answers.Where(a => a.Acknowledged).ToDictionary(a => a.Index, a => a.Body!["messageId"]!.GetValue<string>());

        // The integrator retries what got no 2xx, with the same body, until it does (bounded: an in-flight marker a
        // killed request left answers 409 with Retry-After until it times out).
        var retryCodes = new List<Answer>();
        var pending = answers.Where(a => !a.Acknowledged).Select(a => a.Index).ToList();
        using (var client = app.As(channel.ApiKey))
        {
            var clock = Stopwatch.StartNew();
            for (var round = 0; round < 20 && pending.Count > 0; round++)
            {
                var results = await Burst.RunAsync(pending.Count, 8, k => Burst.Post("/api/receive_hook", Body(pending[k]), channel.ApiKey), client, clock: clock);
                retryCodes.AddRange(results);
                pending = results.Where(r => !r.Acknowledged).Select(r => pending[r.Index]).ToList();
                if (pending.Count > 0)
                {
                    await Task.Delay(1000);
                }
            }
        }

        var stored = await app.ListAsync(channel.ApiKey, "/api/audit/messages?direction=inbound");
        var copies = stored.GroupBy(m => m["externalId"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.Select(m => m["id"]!.GetValue<string>()).ToList());
        var lost = acknowledged.Count(a => !(copies.TryGetValue($"kill-{a.Key}", out var ids) && ids.Contains(a.Value)));
        var figures = new Figures("1. SIGKILL mid-burst of receive_hook", calls, acknowledged.Count, lost,
            copies.Values.Sum(ids => ids.Count - 1), pending.Count + (calls - copies.Count), answers.Concat(retryCodes).Count(a => a.BadServerError),
            restart.TotalSeconds,
            $"burst: {Burst.Codes(answers)}; retries: {Burst.Codes(retryCodes)}; recovery = restart to /api/health");
        ReliabilityRun.Report(figures);

        Assert.True(killed.Task.IsCompleted, "The process was never killed.");
        Assert.Contains(answers, a => !a.Acknowledged);
        ReliabilityRun.AssertCorrect(figures);
    }
}
