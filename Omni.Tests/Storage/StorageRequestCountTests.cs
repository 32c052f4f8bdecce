using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Tests.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;
using Omni.Webhooks;

namespace Omni.Tests.Storage;

/// <summary>
/// What a message costs in storage requests (tenants pay per request): counted by the same pipeline policy the
/// benchmarks use, on the app's own clients, queue receives and deletes included (the tests receive and delete as the
/// Functions host does, one message per receive: the host's batches make a receive cheaper than counted here).
/// Counts are deterministic and asserted exactly, so a request added to a path fails its test; times are never asserted.
/// </summary>
public sealed class StorageRequestCountTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private StorageTransactionCounter _counter = null!;
    private OmniApp _app = null!;
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = await WebhookSink.StartAsync();
        var settings = IsolatedQueues.Settings();
        settings["Omni:Webhooks:AllowPrivateTargets"] = "true";
        _app = new OmniApp(azurite, settings, services => _counter = StorageTransactionCounter.AttachTo(services));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private static string Breakdown(StorageTransactionCounter counter) =>
        string.Join(", ", counter.Snapshot().Select(c => $"{c.Key}: {c.Value}"));

    private static void AssertCount(long expected, StorageTransactionCounter counter, string what) =>
        Assert.True(counter.Total == expected, $"{what}: expected {expected} storage requests, got {counter.Total}: {Breakdown(counter)}");

    private async Task<JsonObject> ReceiveAsync(HttpClient integrator, object body, HttpStatusCode expected = HttpStatusCode.Accepted) =>
        await Arrange.ReadAsync(await integrator.PostAsJsonAsync("/api/receive_hook", body), expected);

    [Fact]
    public async Task AnAcceptedReceiveHookMessageCostsTwoStorageRequests()
    {
        var channel = await _app.OmniChannelAsync();
        var integrator = _app.As(channel.ApiKey);
        // The first message opens the conversation; the second is the common case measured.
        await ReceiveAsync(integrator, ReceiveHookTests.Body("erp-1", "cust-1"));

        _counter.Reset();
        await ReceiveAsync(integrator, ReceiveHookTests.Body("erp-2", "cust-1"));

        // The key's point read and one entity-group transaction: the route is remembered, checked by the transaction.
        AssertCount(2, _counter, "an accepted message of a contact with an open conversation");
    }

    [Fact]
    public async Task TheOtherReceiveHookCasesCostWhatTheDocsSay()
    {
        var channel = await _app.OmniChannelAsync();
        var integrator = _app.As(channel.ApiKey);
        var costs = new Dictionary<string, string>();
        // The key's first use records lastUsedAt and the channel is read once per 30 s: both outside what is measured.
        await ReceiveAsync(integrator, ReceiveHookTests.Body("erp-0", "cust-0"));

        async Task MeasureAsync(string name, object body, HttpStatusCode expected = HttpStatusCode.Accepted)
        {
            _counter.Reset();
            await ReceiveAsync(integrator, body, expected);
            costs[name] = $"{_counter.Total} ({Breakdown(_counter)})";
        }

        await MeasureAsync("new contact", ReceiveHookTests.Body("erp-1", "cust-1"));
        await MeasureAsync("new ticket id", ReceiveHookTests.Body("erp-2", "cust-1", conversationExternalId: "ticket-1"));
        await MeasureAsync("known ticket id", ReceiveHookTests.Body("erp-3", "cust-1", conversationExternalId: "ticket-1"));
        await MeasureAsync("duplicate", ReceiveHookTests.Body("erp-3", "cust-1", conversationExternalId: "ticket-1"), HttpStatusCode.OK);
        await MeasureAsync("one attachment", ReceiveHookTests.Body("erp-4", "cust-1",
            attachments: new[] { new { fileName = "a.txt", contentType = "text/plain", contentBase64 = Convert.ToBase64String("hello"u8.ToArray()) } }));

        var expected = new Dictionary<string, long>
        {
            // Key read; routing read (misses); one transaction opening the conversation.
            ["new contact"] = 3,
            // Key read; the ticket's key read (unknown ids are always looked up: another conversation may own it); the transaction.
            ["new ticket id"] = 3,
            ["known ticket id"] = 2,
            // Key read; the transaction failing on the idempotency row; the idempotency row and the first message read.
            ["duplicate"] = 4,
            // Key read; in-flight marker insert and idempotency read; the blob; the transaction.
            ["one attachment"] = 5,
        };
        Assert.True(expected.All(e => costs[e.Key].StartsWith($"{e.Value} ", StringComparison.Ordinal)),
            string.Join("\n", costs.Select(c => $"{c.Key}: {c.Value}, expected {expected[c.Key]}")));
    }

    [Fact]
    public async Task ARememberedRouteNeverPutsAMessageInAConversationClosedSince()
    {
        var channel = await _app.OmniChannelAsync();
        var integrator = _app.As(channel.ApiKey);
        var first = (await ReceiveAsync(integrator, ReceiveHookTests.Body("erp-1", "cust-1")))["conversationId"]!.GetValue<string>();
        await ReceiveAsync(integrator, ReceiveHookTests.Body("erp-2", "cust-1"));
        // The close goes through storage only, as another instance's close would: this app's remembered route is not told.
        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{first}/close", null), HttpStatusCode.OK);

        _counter.Reset();
        var next = (await ReceiveAsync(integrator, ReceiveHookTests.Body("erp-3", "cust-1")))["conversationId"]!.GetValue<string>();

        // Key read; the transaction failing on the closed conversation's marker; the idempotency read (not a duplicate);
        // the routing read (none open); the transaction opening the new conversation.
        AssertCount(5, _counter, "the first message after a close this instance did not see");
        Assert.NotEqual(first, next);
        var history = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{first}/messages"), HttpStatusCode.OK);
        Assert.Equal(2, history["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task AWebhookDeliveryCostsFourStorageRequestsAndItsPublishTwoOnceItsChannelsBucketRowIsWritten()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var queue = Queue(_app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName);
        await queue.CreateIfNotExistsAsync();
        var stored = await _app.ChannelAsync(channel);
        var publisher = _app.Services.GetRequiredService<IWebhookPublisher>();
        await AwayFromABucketEdgeAsync();

        async Task<(long Total, string Breakdown, string? Id)> PublishAsync()
        {
            var messageId = Omni.Storage.Ids.New("msg");
            var data = new JsonObject { ["messageId"] = messageId, ["conversationId"] = "cnv_test", ["channelId"] = channel.ChannelId, ["text"] = "Olá" };
            _counter.Reset();
            var id = await publisher.PublishAsync(stored, WebhookEventTypes.MessageCreated, data, messageId);
            return (_counter.Total, Breakdown(_counter), id);
        }

        // The channel's first delivery in a bucket also writes the bucket row; the next ones in it do not.
        var first = await PublishAsync();
        var second = await PublishAsync();
        _counter.Reset();
        await HandleOneAsync(queue, body => _app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(body));
        var attempt = (_counter.Total, Breakdown(_counter));
        await HandleOneAsync(queue, body => _app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(body));

        Assert.Equal(2, _sink.Requests.Count);
        Assert.Equal("succeeded", (await _app.DeliveryAsync(channel, first.Id!))["status"]!.GetValue<string>());
        Assert.Equal("succeeded", (await _app.DeliveryAsync(channel, second.Id!))["status"]!.GetValue<string>());
        // Publish: the bucket row (the channel's first in this bucket), one transaction (the row, its idempotency key, its due row), the queue send.
        Assert.True(first.Total == 3, $"the channel's first publish in a bucket: {first.Breakdown}");
        Assert.True(second.Total == 2, $"a publish: {second.Breakdown}");
        // The attempt: receive; the claim against the published ETag (no delivery or channel read: the message carries
        // them); the record with the due row's delete in one transaction; the message's delete.
        Assert.True(attempt.Total == 4, $"the attempt of a delivery: {attempt.Item2}");
    }

    [Fact]
    public async Task AnAgentsReplyReachesTheIntegratorsWebhookForEightStorageRequests()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var conversationId = (await ReceiveAsync(_app.As(channel.ApiKey), ReceiveHookTests.Body("erp-1", "cust-1")))["conversationId"]!.GetValue<string>();
        var deliveries = Queue(_app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName);
        await deliveries.CreateIfNotExistsAsync();
        var agent = _app.As(channel.Tenant.ManagementKey);
        // As after an earlier delivery of the channel in this bucket of the due index: its bucket row is written (the
        // channel's first delivery in a bucket writes it, one request more).
        await AwayFromABucketEdgeAsync();
        await _app.Services.GetRequiredService<WebhookDueIndex>().EnsureBucketAsync(new DueAttempt(NextDueAt(),
            new DeliveryTask(channel.Tenant.CompanyId, channel.ChannelId, "msg_earlier", 1, 1), 0));

        async Task<long> ReplyAsync(string text)
        {
            _counter.Reset();
            StorageTransactionCounter.Phase = "POST";
            var queued = await Arrange.ReadAsync(await agent.PostAsJsonAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages",
                new { text }), HttpStatusCode.Accepted);
            StorageTransactionCounter.Phase = "DeliverWebhook";
            await HandleOneAsync(deliveries, body => _app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(body));
            StorageTransactionCounter.Phase = null;
            Assert.Contains(queued["messageId"]!.GetValue<string>(), _sink.Requests[^1].Body, StringComparison.Ordinal);
            return _counter.Total;
        }

        // The first reply on this instance reads the conversation and the channel: 10.
        var first = await ReplyAsync("Checking.");
        var firstBreakdown = Breakdown(_counter);
        var second = await ReplyAsync("On its way!");

        // POST: the key's read; the staged delivery's $batch (row, idempotency key, due row); the message's $batch,
        // checked by the conversation's open marker; the queue send. DeliverWebhook: receive, claim, record (with the
        // due row's delete), delete. The outbound queue is not on the way.
        Assert.Equal(2, _sink.Requests.Count);
        Assert.True(first == 10, $"the first reply: expected 10 storage requests, got {first}: {firstBreakdown}");
        AssertCount(8, _counter, "an agent's next reply, from its POST to the integrator's webhook");
        Assert.Equal(8, second);
    }

    /// <summary>
    /// Waits out the last seconds of a due-index bucket (SweepGrace wide, 3 min here), so the deliveries measured next
    /// fall in one bucket and the bucket rows they write are the same whatever the time.
    /// </summary>
    private async Task AwayFromABucketEdgeAsync()
    {
        var due = NextDueAt();
        var left = _app.Services.GetRequiredService<WebhookDueIndex>().BucketEnd(due) - due;
        if (left < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(left + TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>When a first attempt published now is due in the index: its attempt's time and a grace.</summary>
    private DateTimeOffset NextDueAt() =>
        WebhookDueIndex.At(DateTimeOffset.UtcNow + _app.Services.GetRequiredService<WebhookRetrySchedule>().DelayBefore(1, null, 0)
            + _app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.SweepGrace);

    private QueueClient Queue(string name) => _app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(name);

    /// <summary>What the Functions host does for one queue message: receive it, invoke the function, delete it.</summary>
    private static async Task HandleOneAsync(QueueClient queue, Func<string, Task> handler)
    {
        var received = await queue.ReceiveMessageAsync(TimeSpan.FromMinutes(1));
        Assert.NotNull(received.Value);
        await handler(received.Value.MessageText);
        await queue.DeleteMessageAsync(received.Value.MessageId, received.Value.PopReceipt);
    }
}
