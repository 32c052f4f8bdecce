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

        var killed = new TaskCompletionSource();
        List<Answer> answers;
        using (var client = app.As(channel.ApiKey, TimeSpan.FromSeconds(20)))
        {
            answers = await Burst.RunAsync(calls, 16, i => ReceiveHookFaults.Call(channel, "kill", i), client, n =>
            {
                if (n == killAfter)
                {
                    app.Process.Kill();
                    killed.SetResult();
                }
            });
        }

        var restart = await app.KillAndRestartAsync();
        var (retries, unacknowledged) = await ReceiveHookFaults.RetryAsync(app, channel, "kill", answers, Stopwatch.StartNew());
        var (lost, duplicates, missing) = await ReceiveHookFaults.TallyAsync(app, channel, "kill", calls, answers);
        var figures = new Figures("1. SIGKILL mid-burst of receive_hook", calls, answers.Count(a => a.Acknowledged), lost, duplicates, unacknowledged.Count + missing,
            answers.Concat(retries).Count(a => a.BadServerError), restart.TotalSeconds,
            $"burst: {Burst.Codes(answers)}; retries: {Burst.Codes(retries)}; recovery = restart to /api/health");
        ReliabilityRun.Report(figures);

        Assert.True(killed.Task.IsCompleted, "The process was never killed.");
        Assert.Contains(answers, a => !a.Acknowledged);
        ReliabilityRun.AssertCorrect(figures);
    }
}
