using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;

namespace Omni.Tests.Reliability;

/// <summary>
/// Scenario 3: agents' replies on an omni channel become signed webhooks to a local sink; the app is SIGKILLed while
/// they are being delivered and started again. Every delivery ends succeeded (or visibly failed), none is stranded
/// pending, and an event reaches the sink more than once only under the same webhook-id.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class WebhookKillTests : IAsyncLifetime
{
    private AzuriteProcess _storage = null!;
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync()
    {
        _storage = await AzuriteProcess.StartAsync();
        _sink = await WebhookSink.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _sink.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task KillingTheAppMidDeliveriesStrandsNoneAndRepeatsOnlyUnderTheSameWebhookId()
    {
        var replies = ReliabilityRun.Size(60);
        await using var app = await FaultApp.StartAsync(_storage.ConnectionString);
        var channel = await app.OmniChannelAsync(await app.TenantAsync(), _sink.Url());
        var conversations = await WebhookFaults.ConversationsAsync(app, channel, 6);
        // Slow enough that deliveries are in flight when the kill comes.
        _sink.ReplyDelay = TimeSpan.FromMilliseconds(200);

        List<Answer> answers;
        var killed = false;
        using (var client = app.As(channel.Tenant.ManagementKey, TimeSpan.FromSeconds(20)))
        {
            answers = await Burst.RunAsync(replies, 6, i => WebhookFaults.Reply(channel, conversations, i), client, n =>
            {
                // Kill once a third of the replies are acknowledged and the sink has seen some of them.
                if (n == replies / 3)
                {
                    app.Process.Kill();
                    killed = true;
                }
            });
        }

        var restart = await app.KillAndRestartAsync();
        _sink.ReplyDelay = TimeSpan.Zero;
        var (lost, duplicates, stuck, notes) = await WebhookFaults.SettleAsync(app, channel, _sink, answers, TimeSpan.FromSeconds(60));
        var figures = new Figures("3. SIGKILL mid-burst of webhook deliveries", replies, answers.Count(a => a.Acknowledged), lost, duplicates, stuck,
            answers.Count(a => a.BadServerError), restart.TotalSeconds, $"replies: {Burst.Codes(answers)}; {notes}; recovery = restart to /api/health");
        ReliabilityRun.Report(figures);

        Assert.True(killed, "The process was never killed.");
        ReliabilityRun.AssertCorrect(figures);
    }
}
