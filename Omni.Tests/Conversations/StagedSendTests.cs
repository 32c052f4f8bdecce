using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;
using Omni.Webhooks;

namespace Omni.Tests.Conversations;

/// <summary>
/// An omni channel's reply skips the outbound queue: its webhook delivery is staged, the message stored as sent, then
/// the delivery queued. The conversation is remembered for the next reply, whose transaction checks it is still open.
/// The tests play the Functions host for the delivery queue, so nothing runs that the test does not hand a message to.
/// </summary>
public sealed class StagedSendTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private OmniApp _app = null!;
    private WebhookSink _sink = null!;
    private SwitchablePublisher _publisher = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = await WebhookSink.StartAsync();
        var settings = IsolatedQueues.Settings();
        settings["Omni:Webhooks:AllowPrivateTargets"] = "true";
        // A staged delivery left unqueued is the sweep's after this, not the production minutes.
        settings["Omni:Webhooks:SweepGrace"] = "00:00:00.300";
        _app = new OmniApp(azurite, settings, services =>
        {
            var registered = services.Last(d => d.ServiceType == typeof(IWebhookPublisher));
            services.AddSingleton<IWebhookPublisher>(sp => _publisher = new SwitchablePublisher((IWebhookPublisher)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)));
        });
        _ = _app.Services.GetRequiredService<IWebhookPublisher>();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    [Fact]
    public async Task AnOmniReplyIsSentWithoutTheOutboundQueueAndReachesTheWebhookOnce()
    {
        var (channel, conversationId) = await ConversationAsync();

        var accepted = await ReplyAsync(channel, conversationId, "On its way!");
        var messageId = accepted["messageId"]!.GetValue<string>();

        // The contract's 202 says queued; the history already says sent, as its delivery was stored first.
        Assert.Equal("queued", accepted["status"]!.GetValue<string>());
        Assert.Equal("sent", (await MessageAsync(channel, conversationId, messageId))["status"]!.GetValue<string>());
        var outbound = Queue(_app.Services.GetRequiredService<IOptions<ConversationOptions>>().Value.OutboundQueueName);
        await outbound.CreateIfNotExistsAsync();
        Assert.Empty((await outbound.PeekMessagesAsync(32)).Value);

        await DeliverAllAsync();
        var delivered = Assert.Single(_sink.Requests);
        var body = JsonNode.Parse(delivered.Body)!;
        Assert.Equal("message.created", body["type"]!.GetValue<string>());
        Assert.Equal(messageId, body["data"]!["messageId"]!.GetValue<string>());
        Assert.Equal("On its way!", body["data"]!["text"]!.GetValue<string>());
        Assert.Equal("cust-1", body["data"]!["contact"]!["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReplyWhoseDeliveryCannotBeQueuedIsAcceptedAndTheWebhookSweepDeliversItOnce()
    {
        var (channel, conversationId) = await ConversationAsync();
        _publisher.FailingQueue = true;

        var messageId = (await ReplyAsync(channel, conversationId, "Chega amanhã."))["messageId"]!.GetValue<string>();
        _publisher.FailingQueue = false;

        Assert.Equal("sent", (await MessageAsync(channel, conversationId, messageId))["status"]!.GetValue<string>());
        await DeliverAllAsync();
        Assert.Empty(_sink.Requests);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_sink.Requests.Count == 0 && DateTime.UtcNow < deadline)
        {
            // As the WebhookSweep timer would: the delivery's due row is found once its bucket and the grace are past.
            await _app.Services.GetRequiredService<WebhookSweep>().SweepAsync();
            await DeliverAllAsync();
            await Task.Delay(200);
        }

        var delivered = Assert.Single(_sink.Requests);
        Assert.Equal(messageId, JsonNode.Parse(delivered.Body)!["data"]!["messageId"]!.GetValue<string>());
        Assert.Equal(messageId, Assert.Single(await DeliveriesAsync(channel))!["messageId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReplyAfterACloseIsRefusedThoughTheConversationIsRememberedAndNothingIsDeliveredForIt()
    {
        var (channel, conversationId) = await ConversationAsync();
        await ReplyAsync(channel, conversationId, "first");
        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);

        var refused = await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "too late" });

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        var deliveries = await DeliveriesAsync(channel);
        Assert.Equal(["conversation.closed", "message.created"], deliveries.Select(d => d!["eventType"]!.GetValue<string>()).Order());
        var history = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages"), HttpStatusCode.OK);
        Assert.DoesNotContain(history["items"]!.AsArray(), m => (string?)m!["text"] == "too late");
    }

    [Fact]
    public async Task AnOpenConversationWithoutItsOpenMarkerTakesTheReplyAndGetsTheMarkerBack()
    {
        var (channel, conversationId) = await ConversationAsync();
        var table = _app.Services.GetRequiredService<TableServiceClient>().GetTableClient(ConversationRows.Table);
        // As a conversation opened before the marker existed.
        await table.DeleteEntityAsync(channel.Tenant.CompanyId, ConversationRows.OpenMarker(conversationId));

        await ReplyAsync(channel, conversationId, "first");
        await ReplyAsync(channel, conversationId, "second");

        Assert.True((await table.GetEntityIfExistsAsync<TableEntity>(channel.Tenant.CompanyId, ConversationRows.OpenMarker(conversationId))).HasValue);
        await DeliverAllAsync();
        Assert.Equal(["first", "second"], _sink.Requests.Select(r => JsonNode.Parse(r.Body)!["data"]!["text"]!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task AnotherCompanyCannotReplyOnAConversationThisInstanceRemembers()
    {
        var (channel, conversationId) = await ConversationAsync();
        await ReplyAsync(channel, conversationId, "mine");
        var other = await _app.TenantAsync();

        var response = await _app.As(other.ManagementKey).PostAsJsonAsync($"/api/companies/{other.CompanyId}/conversations/{conversationId}/messages", new { text = "theirs" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Single(await DeliveriesAsync(channel));
    }

    [Fact]
    public async Task AChannelWhoseWebhookIsDisabledQueuesTheReplyForTheOutboundQueueToFailVisibly()
    {
        var tenant = await _app.TenantAsync();
        var channel = await _app.OmniChannelAsync(tenant, webhookUrl: _sink.Url());
        var conversationId = await ReceiveAsync(channel);
        // As after the endpoint answered 410 Gone.
        var stored = await _app.ChannelAsync(channel);
        await _app.Services.GetRequiredService<IChannelStore>().UpdateAsync(stored with { WebhookDisabledAt = DateTimeOffset.UtcNow }, new Dictionary<string, string>());

        var messageId = (await ReplyAsync(channel, conversationId, "nowhere to go"))["messageId"]!.GetValue<string>();

        // Queued for the SendOutbound function, whose omni transport finds no webhook and fails it.
        Assert.Equal("queued", (await MessageAsync(channel, conversationId, messageId))["status"]!.GetValue<string>());
        Assert.Empty(await DeliveriesAsync(channel));
    }

    private async Task<(TestOmniChannel Channel, string ConversationId)> ConversationAsync()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        return (channel, await ReceiveAsync(channel));
    }

    private async Task<string> ReceiveAsync(TestOmniChannel channel) =>
        (await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook", ReceiveHookTests.Body("erp-1", "cust-1")), HttpStatusCode.Accepted))
            ["conversationId"]!.GetValue<string>();

    private async Task<JsonObject> ReplyAsync(TestOmniChannel channel, string conversationId, string text) =>
        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text }), HttpStatusCode.Accepted);

    private async Task<JsonObject> MessageAsync(TestOmniChannel channel, string conversationId, string messageId)
    {
        var history = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages"), HttpStatusCode.OK);
        return history["items"]!.AsArray().Single(m => m!["id"]!.GetValue<string>() == messageId)!.AsObject();
    }

    private async Task<JsonArray> DeliveriesAsync(TestOmniChannel channel) =>
        (await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK))["items"]!.AsArray();

    private QueueClient Queue(string name) => _app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(name);

    /// <summary>What the Functions host does with the delivery queue: every visible message to the function, then deleted.</summary>
    private async Task DeliverAllAsync()
    {
        var queue = Queue(_app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName);
        await queue.CreateIfNotExistsAsync();
        while ((await queue.ReceiveMessageAsync(TimeSpan.FromMinutes(1))).Value is { } received)
        {
            await _app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(received.MessageText);
            await queue.DeleteMessageAsync(received.MessageId, received.PopReceipt);
        }
    }
}
