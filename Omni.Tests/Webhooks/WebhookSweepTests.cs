using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Omni.Tests.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

/// <summary>The app's delivery store, its reads failing while <see cref="Failing"/> is set (the processor then throws before its claim).</summary>
internal sealed class SwitchableDeliveryStore(IWebhookDeliveryStore inner) : IWebhookDeliveryStore
{
    public bool Failing { get; set; }

    public Task<WebhookDelivery> CreateAsync(WebhookDelivery delivery, string? idempotencyKey, CancellationToken cancellationToken = default) =>
        inner.CreateAsync(delivery, idempotencyKey, cancellationToken);

    public Task<WebhookDelivery?> GetAsync(string companyId, string channelId, string deliveryId, CancellationToken cancellationToken = default) =>
        Failing ? throw new RequestFailedException(503, "The delivery store is down (injected by the test).") : inner.GetAsync(companyId, channelId, deliveryId, cancellationToken);

    // Writes fail too: a publish's first attempt reads nothing, its claim is the first storage call it makes.
    public Task<WebhookDelivery> UpdateAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default) =>
        Failing ? throw new RequestFailedException(503, "The delivery store is down (injected by the test).") : inner.UpdateAsync(delivery, cancellationToken);

    public Task<Omni.Storage.PagedResult<WebhookDelivery>> ListAsync(string companyId, string channelId, DeliveryStatus? status, DateTimeOffset? since, int limit, string? continuationToken,
        CancellationToken cancellationToken = default) =>
        inner.ListAsync(companyId, channelId, status, since, limit, continuationToken, cancellationToken);
}

/// <summary>
/// A delivery whose queue message is lost or poisoned before its claim is not left pending for ever: the WebhookSweep
/// function finds it in the due index and queues its attempt again, and one it queued again and again without the
/// attempt being made becomes failed. An idle sweep is one query.
/// </summary>
public sealed class WebhookSweepTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync() => _sink = await WebhookSink.StartAsync();

    public async ValueTask DisposeAsync() => await _sink.DisposeAsync();

    private static async Task SweepAsync(OmniApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<WebhookSweep>().SweepAsync();
    }

    private static QueueClient Queue(OmniApp app, string? suffix = null) =>
        new(app.StorageConnectionString, app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName + suffix,
            new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

    [Fact]
    public async Task ADeliveryWhoseMessageWasPoisonedBeforeItsClaimIsDeliveredByTheSweep()
    {
        SwitchableDeliveryStore store = null!;
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, retrySchedule: "00:00:00,00:00:00.200", configureServices: services =>
        {
            var registered = services.Last(d => d.ServiceType == typeof(IWebhookDeliveryStore));
            services.AddSingleton<IWebhookDeliveryStore>(sp => store = new SwitchableDeliveryStore((IWebhookDeliveryStore)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)));
        }, more: new() { ["Omni:Triggers:MaxDequeueCount"] = "1", ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        _ = app.Services.GetRequiredService<IWebhookDeliveryStore>();

        store.Failing = true;
        var id = await app.PublishAsync(channel);
        var poison = Queue(app, "-poison");
        await Eventually.HoldsAsync(async () => await poison.ExistsAsync() && (await poison.GetPropertiesAsync()).Value.ApproximateMessagesCount > 0,
            "the delivery's message is poisoned");
        store.Failing = false;
        Assert.Equal("pending", (await app.DeliveryAsync(channel, id!))["status"]!.GetValue<string>());

        await SweepAsync(app);

        await app.DeliveryWhenAsync(channel, id!, "succeeded");
        Assert.Single(_sink.Requests);
    }

    [Fact]
    public async Task AnAttemptQueuedAgainAndAgainWithoutBeingMadeFailsTheDeliveryVisibly()
    {
        // Nothing listens to the queue here: every message the sweep queues is as good as poisoned.
        await using var app = WebhookTestApp.Create(azurite, runLocally: false, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await app.PublishAsync(channel);
        var queue = Queue(app);
        await queue.ClearMessagesAsync();

        for (var rescue = 0; rescue < WebhookSweep.MaxRescues; rescue++)
        {
            await SweepAsync(app);
            Assert.Equal("pending", (await app.DeliveryAsync(channel, id!))["status"]!.GetValue<string>());
        }

        Assert.Equal(WebhookSweep.MaxRescues, (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        await SweepAsync(app);

        var delivery = await app.DeliveryAsync(channel, id!);
        Assert.Equal("failed", delivery["status"]!.GetValue<string>());
        Assert.Contains("never made", delivery["lastError"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(_sink.Requests);
    }

    [Fact]
    public async Task ADeliveryMadeLeavesNoDueRowSoAnIdleSweepIsOneQuery()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await app.PublishAsync(channel);
        await app.DeliveryWhenAsync(channel, id!, "succeeded");
        var table = new TableClient(app.StorageConnectionString, app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.DueTableName);
        // The processor drops the row just after it records the attempt, which audit may show first.
        await Eventually.HoldsAsync(async () => await table.QueryAsync<TableEntity>(maxPerPage: 1).AsPages().FirstAsync() is { Values.Count: 0 }, "the due row is gone");

        var counting = new StorageSwitch();
        var options = new TableClientOptions();
        options.AddPolicy(counting, HttpPipelinePosition.PerRetry);
        var index = new WebhookDueIndex(new TableServiceClient(app.StorageConnectionString, options), app.Services.GetRequiredService<IOptions<WebhookOptions>>());
        var sweep = new WebhookSweep(index, app.Services.GetRequiredService<IWebhookDeliveryStore>(), app.Services.GetRequiredService<WebhookQueue>(),
            app.Services.GetRequiredService<WebhookDeliveryProcessor>(), app.Services.GetRequiredService<IOptions<WebhookOptions>>(), TimeProvider.System, NullLogger<WebhookSweep>.Instance);

        var handled = await sweep.SweepAsync();

        Assert.Equal(0, handled);
        Assert.Equal(1, counting.Requests);
    }
}
