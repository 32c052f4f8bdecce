using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

/// <summary>
/// The DeliverWebhook handler invoked directly (as the host would, with at-least-once messages) on a fake clock:
/// duplicates send once, and the next attempt is queued when the schedule and the endpoint's Retry-After say.
/// </summary>
public sealed class WebhookProcessorTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
    private OmniApp _app = null!;
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync()
    {
        _app = WebhookTestApp.Create(azurite, runLocally: false, retrySchedule: null, configureServices: s => s.AddSingleton<TimeProvider>(_clock));
        _sink = await WebhookSink.StartAsync();
        _app.StartServer();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private WebhookDeliveryProcessor Processor => _app.Services.GetRequiredService<WebhookDeliveryProcessor>();

    private Task<WebhookDelivery?> StoredAsync(TestOmniChannel channel, string id) =>
        _app.Services.GetRequiredService<IWebhookDeliveryStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId, id);

    [Fact]
    public async Task ADuplicateQueueMessageSendsTheAttemptOnceAndNothingAfterSuccess()
    {
        _sink.ReplyDelay = TimeSpan.FromMilliseconds(300);
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await _app.PublishAsync(channel);
        var message = WebhookTestApp.TaskMessage(channel, id!);

        await Task.WhenAll(Processor.ProcessAsync(message), Processor.ProcessAsync(message), Processor.ProcessAsync(message));
        await Processor.ProcessAsync(message);

        Assert.Single(_sink.Requests);
        var delivery = await StoredAsync(channel, id!);
        Assert.Equal(DeliveryStatus.Succeeded, delivery!.Status);
        Assert.Equal(1, delivery.AttemptCount);
        Assert.Null(delivery.ClaimExpiresAt);
    }

    [Fact]
    public async Task RetryAfterIsHonouredWithinTheStepAndTwiceIt()
    {
        var answers = new Queue<SinkReply>(
        [
            new SinkReply(503, null, new Dictionary<string, string> { ["Retry-After"] = "3600" }),
            new SinkReply(429, null, new Dictionary<string, string> { ["Retry-After"] = "1" }),
            new SinkReply(503, null, new Dictionary<string, string> { ["Retry-After"] = _clock.GetUtcNow().AddMinutes(45).ToString("R") }),
            new SinkReply(500),
        ]);
        _sink.Respond = _ => answers.Dequeue();
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await _app.PublishAsync(channel);

        async Task<TimeSpan> AttemptAsync(int attempt)
        {
            await Processor.ProcessAsync(WebhookTestApp.TaskMessage(channel, id!, attempt: attempt));
            var delivery = await StoredAsync(channel, id!);
            Assert.Equal(attempt + 1, delivery!.NextAttempt);
            return delivery.NextAttemptAt!.Value - _clock.GetUtcNow();
        }

        // Step 5 s, asked 1 h: at most twice the step.
        Assert.Equal(TimeSpan.FromSeconds(10), await AttemptAsync(1));
        // Step 5 min, asked 1 s: never sooner than the step.
        Assert.Equal(TimeSpan.FromMinutes(5), await AttemptAsync(2));
        // Step 30 min, asked (as an HTTP date) 45 min: within bounds, as asked.
        Assert.InRange(await AttemptAsync(3), TimeSpan.FromMinutes(45) - TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(45));
        // Step 2 h, nothing asked: the step with ±20 % jitter.
        Assert.InRange(await AttemptAsync(4), TimeSpan.FromHours(2) * 0.8, TimeSpan.FromHours(2) * 1.2);
        Assert.Equal(4, _sink.Requests.Count);
    }

    [Fact]
    public async Task AStaleMessageOfAnEarlierAttemptSendsNothing()
    {
        _sink.Respond = _ => new SinkReply(500);
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await _app.PublishAsync(channel);

        await Processor.ProcessAsync(WebhookTestApp.TaskMessage(channel, id!, attempt: 1));
        await Processor.ProcessAsync(WebhookTestApp.TaskMessage(channel, id!, attempt: 1));
        await Processor.ProcessAsync(WebhookTestApp.TaskMessage(channel, id!, series: 2, attempt: 2));

        Assert.Single(_sink.Requests);
        Assert.Equal(2, (await StoredAsync(channel, id!))!.NextAttempt);
    }

    [Fact]
    public async Task AMalformedQueueMessageFailsLoudlyForThePoisonQueue()
    {
        await Assert.ThrowsAsync<FormatException>(() => Processor.ProcessAsync("""{"companyId":"x"}"""));
        await Assert.ThrowsAnyAsync<System.Text.Json.JsonException>(() => Processor.ProcessAsync("not json"));
    }

    [Fact]
    public async Task UpdatingADeliveryAnotherWriterChangedSinceItWasReadIsAStorageConflict()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await _app.PublishAsync(channel);
        var store = _app.Services.GetRequiredService<IWebhookDeliveryStore>();
        var read = (await StoredAsync(channel, id!))!;
        await store.UpdateAsync(read with { UpdatedAt = _clock.GetUtcNow() });

        // The store's own exception, not the SDK's 412: callers decide by meaning, never by HTTP status.
        await Assert.ThrowsAsync<Omni.Storage.StorageConflictException>(() => store.UpdateAsync(read with { LastError = "stale writer" }));
        Assert.Null((await StoredAsync(channel, id!))!.LastError);
    }
}
