using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Omni.Conversations;
using Omni.Storage;
using Omni.Tests.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

/// <summary>The app's delivery store, its reads failing while <see cref="Failing"/> is set (the processor then throws before its claim).</summary>
internal sealed class SwitchableDeliveryStore(IWebhookDeliveryStore inner) : IWebhookDeliveryStore
{
    public bool Failing { get; set; }

    public Task<WebhookDelivery> CreateAsync(WebhookDelivery delivery, string? idempotencyKey, DueAttempt? due = null, CancellationToken cancellationToken = default) =>
        inner.CreateAsync(delivery, idempotencyKey, due, cancellationToken);

    public Task<WebhookDelivery?> GetAsync(string companyId, string channelId, string deliveryId, CancellationToken cancellationToken = default) =>
        Failing ? throw new RequestFailedException(503, "The delivery store is down (injected by the test).") : inner.GetAsync(companyId, channelId, deliveryId, cancellationToken);

    // Writes fail too: a publish's first attempt reads nothing, its claim is the first storage call it makes.
    public Task<WebhookDelivery> UpdateAsync(WebhookDelivery delivery, DueAttempt? expect = null, DueAttempt? done = null, CancellationToken cancellationToken = default) =>
        Failing ? throw new RequestFailedException(503, "The delivery store is down (injected by the test).") : inner.UpdateAsync(delivery, expect, done, cancellationToken);

    public Task<Omni.Storage.PagedResult<WebhookDelivery>> ListAsync(string companyId, string channelId, DeliveryStatus? status, DateTimeOffset? since, int limit, string? continuationToken,
        CancellationToken cancellationToken = default) =>
        inner.ListAsync(companyId, channelId, status, since, limit, continuationToken, cancellationToken);

    public IAsyncEnumerable<DueAttempt> DueAsync(string companyId, string channelId, DateTimeOffset now, int max, CancellationToken cancellationToken = default) =>
        inner.DueAsync(companyId, channelId, now, max, cancellationToken);

    public Task<bool> RescheduleAsync(DueAttempt from, DueAttempt to, CancellationToken cancellationToken = default) => inner.RescheduleAsync(from, to, cancellationToken);

    public Task DropAsync(DueAttempt due, CancellationToken cancellationToken = default) => inner.DropAsync(due, cancellationToken);

    public Task<bool> DiscardAsync(WebhookDelivery delivery, string? idempotencyKey, DueAttempt? due, CancellationToken cancellationToken = default) =>
        inner.DiscardAsync(delivery, idempotencyKey, due, cancellationToken);
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
    public async Task ADeliveryWhoseQueueMessageIsLostIsDeliveredByTheSweepThroughItsBucketRow()
    {
        // Nothing listens to the queue until the message is handled below, as the host would.
        await using var app = WebhookTestApp.Create(azurite, runLocally: false, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await app.PublishAsync(channel);
        var queue = Queue(app);
        await queue.ClearMessagesAsync();

        var before = Assert.Single(await BucketsAsync(app));
        Assert.Equal(1, await app.Services.GetRequiredService<WebhookSweep>().SweepAsync());
        // The first bucket row went (nothing left due in the partition up to its end); the moved due row has its own, later one.
        Assert.NotEqual(before.RowKey, Assert.Single(await BucketsAsync(app)).RowKey);

        // The bucket row pointed at the channel's partition, whose due row named the attempt: queued again, due row moved on.
        var requeued = (await queue.ReceiveMessageAsync()).Value;
        Assert.NotNull(requeued);
        await app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(requeued.MessageText);
        Assert.Equal("succeeded", (await app.DeliveryAsync(channel, id!))["status"]!.GetValue<string>());
        Assert.Single(_sink.Requests);
        // The message names the row the sweep moved: the record deleted it in its transaction.
        Assert.Empty(await DueRowsAsync(app, channel));

        // The next sweep finds the partition empty and deletes the moved row's bucket row.
        Assert.Equal(0, await app.Services.GetRequiredService<WebhookSweep>().SweepAsync());
        Assert.Empty(await BucketsAsync(app));
        Assert.Single(_sink.Requests);
    }

    [Fact]
    public async Task ADeliveryMadeLeavesNoDueRowItsBucketRowGoesAtTheNextSweepAndThenAnIdleSweepIsOneQuery()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await app.PublishAsync(channel);
        await app.DeliveryWhenAsync(channel, id!, "succeeded");
        // The record deletes the due row in its transaction: nothing is due in the partition.
        Assert.Empty(await DueRowsAsync(app, channel));
        Assert.Single(await BucketsAsync(app));

        // The bucket row is left to the sweep (its writers cannot know when the partition has nothing due): the first
        // sweep after it ended finds the partition empty and deletes it.
        var first = Counted(app, out var firstCount);
        Assert.Equal(0, await first.SweepAsync());
        Assert.Empty(await BucketsAsync(app));
        // The bucket query, the partition query, the bucket row's delete.
        Assert.Equal(3, firstCount.Requests);

        var idle = Counted(app, out var idleCount);
        Assert.Equal(0, await idle.SweepAsync());
        Assert.Equal(1, idleCount.Requests);
    }

    [Fact]
    public async Task AStagedDeliveryWhoseMessageWasNeverStoredIsDiscardedByTheSweepNeverSent()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var messageId = Ids.New("msg");
        // The caller died after the stage, before storing its message (and so before queuing it).
        var staged = await StageAsync(app, channel, messageId, "cnv_never_stored");
        Assert.NotNull(staged);

        Assert.Equal(1, await app.Services.GetRequiredService<WebhookSweep>().SweepAsync());

        Assert.Null(await app.Services.GetRequiredService<IWebhookDeliveryStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId, staged.DeliveryId));
        Assert.Empty(await DueRowsAsync(app, channel));
        Assert.Empty(await BucketsAsync(app));
        await Task.Delay(500);
        Assert.Empty(_sink.Requests);
        // Its key went with it: the message, should its caller store it after all, is staged afresh.
        Assert.NotEqual(staged.DeliveryId, (await StageAsync(app, channel, messageId, "cnv_never_stored"))!.DeliveryId);
    }

    [Fact]
    public async Task AStagedDeliveryWhoseMessageIsStoredButNeverQueuedIsDeliveredByTheSweep()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        // A stored message of the channel (an inbound one: any message the conversation store has will do).
        var stored = await Arrange.ReadAsync(await app.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook", ReceiveHookTests.Body("erp-1")), System.Net.HttpStatusCode.Accepted);
        var staged = await StageAsync(app, channel, stored["messageId"]!.GetValue<string>(), stored["conversationId"]!.GetValue<string>());

        Assert.Equal(1, await app.Services.GetRequiredService<WebhookSweep>().SweepAsync());

        await app.DeliveryWhenAsync(channel, staged!.DeliveryId, "succeeded");
        Assert.Single(_sink.Requests);
    }

    [Fact]
    public async Task AStagedDeliveryQueuedAfterItsMessageIsDeliveredOnceAndARepeatedStageKeepsItsId()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var publisher = app.Services.GetRequiredService<IWebhookPublisher>();
        var messageId = Ids.New("msg");
        var staged = await StageAsync(app, channel, messageId, "cnv_test");
        var again = await StageAsync(app, channel, messageId, "cnv_test");
        Assert.Equal(staged!.DeliveryId, again!.DeliveryId);

        await publisher.QueueAsync(staged);
        await publisher.QueueAsync(again);

        await app.DeliveryWhenAsync(channel, staged.DeliveryId, "succeeded");
        await Task.Delay(500);
        var request = Assert.Single(_sink.Requests);
        Assert.Equal(staged.DeliveryId, request.WebhookId);
        Assert.Empty(await DueRowsAsync(app, channel));
    }

    [Fact]
    public async Task ADiscardedStagedDeliveryLeavesNoRowAndIsNeverSent()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: true, more: new() { ["Omni:Webhooks:SweepGrace"] = "00:00:00" });
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var staged = await StageAsync(app, channel, Ids.New("msg"), "cnv_test");

        await app.Services.GetRequiredService<IWebhookPublisher>().DiscardAsync(staged!);

        Assert.Null(await app.Services.GetRequiredService<IWebhookDeliveryStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId, staged!.DeliveryId));
        Assert.Empty(await DueRowsAsync(app, channel));
        Assert.Equal(0, await app.Services.GetRequiredService<WebhookSweep>().SweepAsync());
        Assert.Empty(await BucketsAsync(app));
        Assert.Empty(_sink.Requests);
    }

    private static async Task<StagedDelivery?> StageAsync(OmniApp app, TestOmniChannel channel, string messageId, string conversationId) =>
        await app.Services.GetRequiredService<IWebhookPublisher>().StageAsync(await app.ChannelAsync(channel), WebhookEventTypes.MessageCreated,
            new JsonObject { ["messageId"] = messageId, ["conversationId"] = conversationId, ["channelId"] = channel.ChannelId, ["direction"] = "outbound", ["text"] = "Olá" },
            messageId);

    /// <summary>The bucket rows of the app's own due table.</summary>
    private static async Task<List<TableEntity>> BucketsAsync(OmniApp app) =>
        await new TableClient(app.StorageConnectionString, app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.DueTableName).QueryAsync<TableEntity>().ToListAsync();

    private static async Task<List<DueAttempt>> DueRowsAsync(OmniApp app, TestOmniChannel channel) =>
        await app.Services.GetRequiredService<IWebhookDeliveryStore>().DueAsync(channel.Tenant.CompanyId, channel.ChannelId, DateTimeOffset.MaxValue.AddDays(-1), 100).ToListAsync();

    /// <summary>A sweep over the app's stores whose due index counts its requests, and its store the partition's.</summary>
    private static WebhookSweep Counted(OmniApp app, out StorageSwitch counting)
    {
        counting = new StorageSwitch();
        var options = new TableClientOptions();
        options.AddPolicy(counting, HttpPipelinePosition.PerRetry);
        var tables = new TableServiceClient(app.StorageConnectionString, options);
        var webhookOptions = app.Services.GetRequiredService<IOptions<WebhookOptions>>();
        return new WebhookSweep(new WebhookDueIndex(tables, webhookOptions, TimeProvider.System),
            new TableWebhookDeliveryStore(tables, app.Services.GetRequiredService<BlobServiceClient>()), app.Services.GetRequiredService<WebhookQueue>(),
            app.Services.GetRequiredService<WebhookDeliveryProcessor>(), app.Services.GetRequiredService<IConversationStore>(), webhookOptions, TimeProvider.System,
            NullLogger<WebhookSweep>.Instance);
    }
}
