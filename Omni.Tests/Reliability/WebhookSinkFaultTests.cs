using System.Diagnostics;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;

namespace Omni.Tests.Reliability;

/// <summary>
/// Scenario 5: the integrator's endpoint misbehaves while agents reply: first it hangs (accepts, never answers), then
/// it resets every connection, then it answers slowly (within the attempt timeout). Deliveries are retried on the
/// schedule and none is lost, while a burst of receive_hook calls on the same channel goes on unaffected.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class WebhookSinkFaultTests : IAsyncLifetime
{
    private AzuriteProcess _storage = null!;
    private WebhookSink _sink = null!;
    private TcpFaultProxy _proxy = null!;

    public async ValueTask InitializeAsync()
    {
        _storage = await AzuriteProcess.StartAsync();
        _sink = await WebhookSink.StartAsync();
        _proxy = TcpFaultProxy.Start(_sink.Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _sink.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task AHangingResettingOrSlowEndpointLosesNoDeliveryAndLeavesReceiveHookAlone()
    {
        var replies = ReliabilityRun.Size(30);
        var calls = ReliabilityRun.Size(150);
        await using var app = await FaultApp.StartAsync(_storage.ConnectionString);
        var channel = await app.OmniChannelAsync(await app.TenantAsync(), $"http://127.0.0.1:{_proxy.Port}/hook");
        var conversations = await WebhookFaults.ConversationsAsync(app, channel, 5);

        using var agent = app.As(channel.Tenant.ManagementKey);
        using var integrator = app.As(channel.ApiKey);
        var clock = Stopwatch.StartNew();
        // The integrator keeps sending while its endpoint is broken: that work must not notice.
        var inbound = Task.Run(() => Burst.RunAsync(calls, 4, i =>
        {
            Thread.Sleep(30);
            return Burst.Post("/api/receive_hook", new { externalId = $"side-{i}", contact = new { externalId = $"side-{i % 10}" }, text = $"side {i}" }, channel.ApiKey);
        }, integrator, clock: clock));

        var answers = new List<Answer>();
        var phases = new (string Name, Action Apply)[]
        {
            ("hang", () => _proxy.Fault = ProxyFault.Hang),
            ("reset", () => _proxy.Fault = ProxyFault.Reset),
            ("slow", () => { _proxy.Fault = ProxyFault.None; _sink.ReplyDelay = TimeSpan.FromMilliseconds(1500); }),
        };
        foreach (var (name, apply) in phases)
        {
            apply();
            var start = answers.Count;
            answers.AddRange((await Burst.RunAsync(replies / 3, 3, i => WebhookFaults.Reply(channel, conversations, start + i), agent, clock: clock))
                .Select(a => a with { Index = start + a.Index }));
            await Task.Delay(3000);
        }

        _sink.ReplyDelay = TimeSpan.Zero;
        var sideAnswers = await inbound;
        var (lost, duplicates, stuck, notes) = await WebhookFaults.SettleAsync(app, channel, _sink, answers, TimeSpan.FromSeconds(60));
        var schedule = await WebhookFaults.ScheduleAsync(app, channel, 200);
        var byTime = sideAnswers.OrderBy(a => a.At).ToList();
        var sideLatency = byTime.Count > 1 ? byTime.Zip(byTime.Skip(1)).Max(p => (p.Second.At - p.First.At).TotalSeconds) : 0;
        var figures = new Figures("5. Webhook endpoint hangs, resets, answers slowly", answers.Count, answers.Count(a => a.Acknowledged), lost, duplicates, stuck,
            answers.Concat(sideAnswers).Count(a => a.BadServerError), null,
            $"3 s each of hang / reset / 1.5 s replies; {notes}; {schedule}; proxy: {_proxy.Connections} connections; receive_hook alongside: {Burst.Codes(sideAnswers)}, " +
            $"longest gap between its answers {sideLatency:0.0} s");
        ReliabilityRun.Report(figures);

        Assert.All(sideAnswers, a => Assert.True(a.Acknowledged, $"receive_hook call {a.Index} answered {a.Status} while the webhook endpoint was failing."));
        ReliabilityRun.AssertCorrect(figures);
    }
}
