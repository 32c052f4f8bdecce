using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;
using Omni.Webhooks;

namespace Omni.Tests.Conversations;

/// <summary>A pipeline policy that fails every request while <see cref="Failing"/> is set, and counts the requests it lets through.</summary>
public sealed class StorageSwitch : HttpPipelineSynchronousPolicy
{
    private int _requests;

    public bool Failing { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    public override void OnSendingRequest(HttpMessage message)
    {
        if (Failing)
        {
            throw new RequestFailedException(503, "Storage is down (injected by the test).");
        }

        Interlocked.Increment(ref _requests);
    }
}

/// <summary>The app's webhook publisher, failing <c>conversation.closed</c> while <see cref="Failing"/> is set.</summary>
public sealed class SwitchablePublisher(IWebhookPublisher inner) : IWebhookPublisher
{
    public bool Failing { get; set; }

    public Task<string?> PublishAsync(Channel channel, string eventType, JsonObject data, string? messageId = null, CancellationToken cancellationToken = default) =>
        Failing && eventType == WebhookEventTypes.ConversationClosed
            ? throw new RequestFailedException(503, "The webhook store is down (injected by the test).")
            : inner.PublishAsync(channel, eventType, data, messageId, cancellationToken);

    public Task<string?> PublishToBotAsync(string companyId, string botId, string eventType, JsonObject data, string? messageId = null, string? eventKey = null,
        CancellationToken cancellationToken = default) =>
        inner.PublishToBotAsync(companyId, botId, eventType, data, messageId, eventKey, cancellationToken);

    public Task<StagedDelivery?> StageAsync(Channel channel, string eventType, JsonObject data, string messageId, CancellationToken cancellationToken = default) =>
        inner.StageAsync(channel, eventType, data, messageId, cancellationToken);

    /// <summary>Fails the first attempt's queue send of a staged delivery while set.</summary>
    public bool FailingQueue { get; set; }

    public Task QueueAsync(StagedDelivery staged, CancellationToken cancellationToken = default) =>
        FailingQueue ? throw new RequestFailedException(503, "The delivery queue is down (injected by the test).") : inner.QueueAsync(staged, cancellationToken);

    public Task DiscardAsync(StagedDelivery staged, CancellationToken cancellationToken = default) => inner.DiscardAsync(staged, cancellationToken);
}

/// <summary>A transport as it is, minus staging: its messages go the outbound queue's way.</summary>
public sealed class UnstagedTransport(IOutboundTransport inner) : IOutboundTransport
{
    public string ChannelType => inner.ChannelType;

    public Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        inner.SendAsync(channel, conversation, message, cancellationToken);

    public Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        inner.ResolveInterruptedAsync(channel, conversation, message, cancellationToken);
}

/// <summary>
/// An agent's message and a close are stored with an outbox item, so what the request could not hand on (the queue
/// or the webhook store failing) the OutboxSweep function hands on later, once, and an idle sweep costs one read.
/// </summary>
public sealed class OutboxTests : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite;
    private readonly StorageSwitch _queue = new();
    private readonly Dictionary<string, string?> _settings;
    private SwitchablePublisher _publisher = null!;
    private WebhookSink _sink = null!;
    private OmniApp _app = null!;

    public OutboxTests(AzuriteFixture azurite)
    {
        _azurite = azurite;
        _settings = IsolatedQueues.Settings();
        _settings["Omni:Triggers:RunLocally"] = "true";
        _settings["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200";
        _settings["Omni:Conversations:OutboxGrace"] = "00:00:00.200";
        _settings["Omni:Webhooks:AllowPrivateTargets"] = "true";
    }

    public async ValueTask InitializeAsync()
    {
        _sink = await WebhookSink.StartAsync();
        _app = new OmniApp(_azurite, _settings, services =>
        {
            // Only the agent's enqueue goes through the switch; the listeners keep the app's own client.
            var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
            options.AddPolicy(_queue, HttpPipelinePosition.PerCall);
            services.AddSingleton(sp => new OutboundQueue(new QueueServiceClient(_azurite.ConnectionString, options), sp.GetRequiredService<IOptions<ConversationOptions>>()));
            // A transport that sends from the outbound queue, as every kind but omni does (omni's staged replies skip it: StagedSendTests).
            services.AddKeyedSingleton<IOutboundTransport>(ChannelTypes.Omni, (sp, _) => new UnstagedTransport(ActivatorUtilities.CreateInstance<Omni.OmniChannel.OmniOutboundTransport>(sp)));
            var registered = services.Last(d => d.ServiceType == typeof(IWebhookPublisher));
            services.AddSingleton<IWebhookPublisher>(sp => _publisher = new SwitchablePublisher((IWebhookPublisher)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)));
        });
        _app.StartServer();
        _ = _app.Services.GetRequiredService<IWebhookPublisher>();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private async Task<(TestOmniChannel Channel, string ConversationId)> ConversationAsync()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var received = await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook",
            new { externalId = "erp-1", contact = new { externalId = "cust-42" }, text = "Olá" }), HttpStatusCode.Accepted);
        return (channel, received["conversationId"]!.GetValue<string>());
    }

    /// <summary>Runs the OutboxSweep handler (as its timer would) until <paramref name="done"/> holds.</summary>
    private async Task SweepUntilAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            await using (var scope = _app.Services.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<OutboxSweep>().SweepAsync();
            }

            if (await done())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Timed out waiting until {what}.");
    }

    private async Task<string> StatusAsync(TestOmniChannel channel, string conversationId, string messageId)
    {
        var history = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages"), HttpStatusCode.OK);
        return history["items"]!.AsArray().Single(m => m!["id"]!.GetValue<string>() == messageId)!["status"]!.GetValue<string>();
    }

    private async Task<List<JsonObject>> DeliveriesAsync(TestOmniChannel channel, string eventType)
    {
        var page = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        return page["items"]!.AsArray().Select(d => d!.AsObject()).Where(d => d["eventType"]?.GetValue<string>() == eventType).ToList();
    }

    [Fact]
    public async Task AnAgentMessageWhoseEnqueueFailsIsAcceptedAndSentByTheSweepLater()
    {
        var (channel, conversationId) = await ConversationAsync();
        _queue.Failing = true;

        var accepted = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "Chega amanhã." }), HttpStatusCode.Accepted);
        var messageId = accepted["messageId"]!.GetValue<string>();
        Assert.Equal("queued", await StatusAsync(channel, conversationId, messageId));
        _queue.Failing = false;

        await SweepUntilAsync(async () => await StatusAsync(channel, conversationId, messageId) == "sent", "the swept message is sent");
        Assert.Equal(messageId, Assert.Single(await DeliveriesAsync(channel, "message.created"))["messageId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AConversationWhosePublishFailsOnCloseStillDeliversConversationClosedOnce()
    {
        var (channel, conversationId) = await ConversationAsync();
        _publisher.Failing = true;

        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);
        Assert.Empty(await DeliveriesAsync(channel, "conversation.closed"));
        _publisher.Failing = false;

        await SweepUntilAsync(async () => (await DeliveriesAsync(channel, "conversation.closed")).Count > 0, "conversation.closed is published");
        // Sweeping again and closing again (which publishes again) keep the one delivery.
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<OutboxSweep>().SweepAsync();
        }

        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);
        var delivery = Assert.Single(await DeliveriesAsync(channel, "conversation.closed"));
        var request = Assert.Single(await _sink.WaitForAsync(1), r => r.Body.Contains("conversation.closed", StringComparison.Ordinal));
        Assert.Equal(delivery["id"]!.GetValue<string>(), request.WebhookId);
    }

    [Fact]
    public async Task AnIdleSweepCostsOneStorageRead()
    {
        var counting = new StorageSwitch();
        var options = new TableClientOptions();
        options.AddPolicy(counting, HttpPipelinePosition.PerRetry);
        var conversationOptions = _app.Services.GetRequiredService<IOptions<ConversationOptions>>();
        var outbox = new ConversationOutbox(new TableServiceClient(_azurite.ConnectionString, options), conversationOptions);
        var sweep = new OutboxSweep(outbox, _app.Services.GetRequiredService<OutboxHandOff>(), TimeProvider.System, NullLogger<OutboxSweep>.Instance);

        var handed = await sweep.SweepAsync();

        Assert.Equal(0, handed);
        Assert.Equal(1, counting.Requests);
    }
}
