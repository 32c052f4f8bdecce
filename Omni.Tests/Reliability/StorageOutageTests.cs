using System.Diagnostics;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Reliability;

/// <summary>
/// Scenario 4: Azurite goes away in the middle of a burst of receive_hook calls and comes back. The app reaches it
/// through <see cref="TcpFaultProxy"/>s, one per service; "down" closes their ports and resets every open connection,
/// which is what a stopped emulator looks like to the app, while the data survives. Counted: what the app answers while
/// storage is down (503 with Retry-After is fine, 500 is not), how long after storage returns the first call succeeds,
/// and that nothing acknowledged is lost or stored twice.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class StorageOutageTests : IAsyncLifetime
{
    private AzuriteProcess _storage = null!;
    private TcpFaultProxy[] _proxies = [];

    public async ValueTask InitializeAsync()
    {
        _storage = await AzuriteProcess.StartAsync();
        _proxies = [TcpFaultProxy.Start(_storage.BlobPort), TcpFaultProxy.Start(_storage.QueuePort), TcpFaultProxy.Start(_storage.TablePort)];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }

        await _storage.DisposeAsync();
    }

    // 4 s: within the storage SDK's own retries. 20 s: longer than they last, so the app has to answer while storage is down.
    [Theory]
    [InlineData(4)]
    [InlineData(20, Skip = ReliabilityRun.LongRunOnly, SkipUnless = nameof(ReliabilityRun.Long), SkipType = typeof(ReliabilityRun))]
    public async Task StorageGoingAwayMidBurstGetsNo500AndLosesNothingAcknowledged(int outageSeconds)
    {
        // Paced so the burst spans the outage and the recovery.
        var calls = ReliabilityRun.Size(150) * outageSeconds / 4;
        var outage = TimeSpan.FromSeconds(outageSeconds);
        var proxied = _storage.ConnectionString
            .Replace($":{_storage.BlobPort}/", $":{_proxies[0].Port}/", StringComparison.Ordinal)
            .Replace($":{_storage.QueuePort}/", $":{_proxies[1].Port}/", StringComparison.Ordinal)
            .Replace($":{_storage.TablePort}/", $":{_proxies[2].Port}/", StringComparison.Ordinal);
        await using var app = await FaultApp.StartAsync(proxied);
        var channel = await app.OmniChannelAsync(await app.TenantAsync(), "http://127.0.0.1:9/unused");

        var clock = Stopwatch.StartNew();
        TimeSpan? downAt = null, upAt = null;
        Task? outageTask = null;
        List<Answer> answers;
        using (var client = app.As(channel.ApiKey, TimeSpan.FromSeconds(60)))
        {
            answers = await Burst.RunAsync(calls, 4, i =>
            {
                Thread.Sleep(20);
                return ReceiveHookFaults.Call(channel, "outage", i);
            }, client, n =>
            {
                if (n == calls / 4)
                {
                    outageTask = Task.Run(async () =>
                    {
                        downAt = clock.Elapsed;
                        foreach (var proxy in _proxies)
                        {
                            proxy.Down();
                        }

                        await Task.Delay(outage);
                        foreach (var proxy in _proxies)
                        {
                            proxy.Up();
                        }

                        upAt = clock.Elapsed;
                    });
                }
            }, clock);
        }

        await (outageTask ?? Task.CompletedTask);
        Assert.True(downAt is not null && upAt is not null, "Storage was never taken down.");
        var firstSuccessAfterUp = answers.Where(a => a.Acknowledged && a.At > upAt!.Value).Select(a => a.At).DefaultIfEmpty().Min();
        var whileDown = answers.Where(a => a.Started <= upAt!.Value && a.At >= downAt!.Value).ToList();
        var slowest = whileDown.Select(a => (a.At - a.Started).TotalSeconds).DefaultIfEmpty().Max();

        var (retries, unacknowledged) = await ReceiveHookFaults.RetryAsync(app, channel, "outage", answers, clock);
        var (lost, duplicates, missing) = await ReceiveHookFaults.TallyAsync(app, channel, "outage", calls, answers);
        var figures = new Figures($"4. Azurite down {outageSeconds} s mid-burst of receive_hook", calls, answers.Count(a => a.Acknowledged), lost, duplicates,
            unacknowledged.Count + missing, answers.Concat(retries).Count(a => a.BadServerError),
            firstSuccessAfterUp == default ? null : (firstSuccessAfterUp - upAt!.Value).TotalSeconds,
            $"{outage.TotalSeconds:0} s outage; calls in flight while down: {Burst.Codes(whileDown)}, slowest {slowest:0.0} s; whole burst: {Burst.Codes(answers)}; retries: {Burst.Codes(retries)}; recovery = storage back to the first 2xx");
        ReliabilityRun.Report(figures);
        ReliabilityRun.AssertCorrect(figures);
    }
}
