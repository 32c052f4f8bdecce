using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Conversations;

/// <summary>Stands in for the webhook pipeline (built on another branch) and records what would be delivered.</summary>
public sealed class RecordingWebhookPublisher : IWebhookPublisher
{
    public ConcurrentQueue<(string ChannelId, string EventType, JsonObject Data)> Events { get; } = new();

    /// <summary>When set, the next publish throws as a storage outage would, and clears it.</summary>
    public bool FailNext { get; set; }

    public Task<string?> PublishAsync(Channel channel, string eventType, JsonObject data, string? messageId = null, CancellationToken cancellationToken = default)
    {
        if (FailNext)
        {
            FailNext = false;
            throw new InvalidOperationException("The webhook pipeline is down.");
        }

        Events.Enqueue((channel.Id, eventType, data));
        return Task.FromResult<string?>("dlv_test");
    }

    public Task<string?> PublishToBotAsync(string companyId, string botId, string eventType, JsonObject data, string? messageId = null, string? eventKey = null,
        CancellationToken cancellationToken = default)
    {
        Events.Enqueue((botId, eventType, data));
        return Task.FromResult<string?>("dlv_test");
    }

    /// <summary>Recorded when staged: a staged delivery is durable, so it would be delivered (the sweep queues one never queued).</summary>
    public async Task<StagedDelivery?> StageAsync(Channel channel, string eventType, JsonObject data, string messageId, CancellationToken cancellationToken = default) =>
        await PublishAsync(channel, eventType, data, messageId, cancellationToken) is { } id ? new StagedDelivery(id) : null;

    public Task QueueAsync(StagedDelivery staged, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task DiscardAsync(StagedDelivery staged, CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>Conversations, history, sending, close and the audit of messages over HTTP, with tenants kept apart.</summary>
public sealed class ConversationEndpointTests : IAsyncLifetime
{
    private readonly RecordingWebhookPublisher _publisher = new();
    private readonly OmniApp _app;

    public ConversationEndpointTests(AzuriteFixture azurite) =>
        _app = new OmniApp(azurite, configureServices: services => services.AddSingleton<IWebhookPublisher>(_publisher));

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<(TestOmniChannel Channel, string ConversationId, string MessageId)> ReceivedAsync(TestOmniChannel? channel = null, string externalId = "erp-1", string contact = "cust-42")
    {
        channel ??= await _app.OmniChannelAsync();
        var accepted = await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook", ReceiveHookTests.Body(externalId, contact)), HttpStatusCode.Accepted);
        return (channel, accepted["conversationId"]!.GetValue<string>(), accepted["messageId"]!.GetValue<string>());
    }

    private static string Conversations(TestTenant tenant) => $"/api/companies/{tenant.CompanyId}/conversations";

    [Fact]
    public async Task SendingQueuesAnOutboundMessageThatTheHistoryShowsBesideTheInboundOne()
    {
        var (channel, conversationId, inboundId) = await ReceivedAsync();
        var tenant = channel.Tenant;

        var queued = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"{Conversations(tenant)}/{conversationId}/messages",
            new { text = "We are on it", attachments = new[] { new { fileName = "label.pdf", contentType = "application/pdf", contentBase64 = "JVBERi0=" } } }), HttpStatusCode.Accepted);
        var history = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"{Conversations(tenant)}/{conversationId}/messages"), HttpStatusCode.OK);

        Assert.Equal("queued", queued["status"]!.GetValue<string>());
        var items = history["items"]!.AsArray();
        Assert.Equal([inboundId, queued["messageId"]!.GetValue<string>()], items.Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal(["inbound", "outbound"], items.Select(m => m!["direction"]!.GetValue<string>()));
        Assert.Equal("label.pdf", items[1]!["attachments"]![0]!["fileName"]!.GetValue<string>());
    }

    [Fact]
    public async Task SendingNeedsTextOrAttachmentsAndTheWriteScope()
    {
        var (channel, conversationId, _) = await ReceivedAsync();
        var tenant = channel.Tenant;
        var reader = await _app.ManagementKeyAsync(tenant.CompanyId, "conversations:read");

        var empty = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"{Conversations(tenant)}/{conversationId}/messages", new { text = " " });
        var forbidden = await _app.As(reader).PostAsJsonAsync($"{Conversations(tenant)}/{conversationId}/messages", new { text = "hi" });
        var read = await _app.As(reader).GetAsync($"{Conversations(tenant)}/{conversationId}/messages");

        Assert.NotNull((await Arrange.ReadAsync(empty, HttpStatusCode.BadRequest))["errors"]!["text"]);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task AClosedConversationRefusesNewMessagesWithConflict()
    {
        var (channel, conversationId, _) = await ReceivedAsync();
        var tenant = channel.Tenant;
        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{conversationId}/close", null), HttpStatusCode.OK);

        var response = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"{Conversations(tenant)}/{conversationId}/messages", new { text = "hello?" });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.Conflict);
        Assert.Contains("closed", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task EveryCloseOfAnOmniConversationHandsConversationClosedToThePublisherWhichKeepsItOnce()
    {
        var (channel, conversationId, _) = await ReceivedAsync();
        var tenant = channel.Tenant;

        var closed = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{conversationId}/close", null), HttpStatusCode.OK);
        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{conversationId}/close", null), HttpStatusCode.OK);

        Assert.Equal("closed", closed["status"]!.GetValue<string>());
        Assert.NotNull(closed["closedAt"]);
        var events = _publisher.Events.Where(e => e.Data["conversationId"]!.GetValue<string>() == conversationId).ToList();
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal(WebhookEventTypes.ConversationClosed, e.EventType));
        Assert.All(events, e => Assert.Equal(channel.ChannelId, e.ChannelId));
        Assert.All(events, e => Assert.Equal(closed["closedAt"]!.GetValue<DateTimeOffset>(), e.Data["closedAt"]!.GetValue<DateTimeOffset>()));
        Assert.Equal("cust-42", events[0].Data["contact"]!["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACloseWhosePublishFailedIsStillAcknowledgedAndARetryPublishesConversationClosedOnce()
    {
        var (channel, conversationId, _) = await ReceivedAsync();
        var tenant = channel.Tenant;
        _publisher.FailNext = true;

        var failed = await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{conversationId}/close", null);
        var retried = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{conversationId}/close", null), HttpStatusCode.OK);

        // The close is stored with its outbox item, so the failed publish is owed (by the retry or the sweep), not lost.
        Assert.Equal(HttpStatusCode.OK, failed.StatusCode);
        Assert.Equal("closed", retried["status"]!.GetValue<string>());
        var published = Assert.Single(_publisher.Events, e => e.Data["conversationId"]!.GetValue<string>() == conversationId);
        Assert.Equal(WebhookEventTypes.ConversationClosed, published.EventType);
    }

    [Fact]
    public async Task ClosingAConversationOfAnotherChannelTypePublishesNothing()
    {
        var tenant = await _app.TenantAsync();
        var webchat = (await _app.ChannelAsync(tenant, "webchat", new { allowedOrigins = new[] { "https://shop.example.com" } }))["id"]!.GetValue<string>();
        var appended = await _app.Services.GetRequiredService<Omni.Conversations.IConversationStore>().AppendInboundAsync(
            new Omni.Conversations.InboundMessage(tenant.CompanyId, webchat, "w-1", new Omni.Conversations.ContactInfo("visitor-1"), "hi"));

        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{appended.Message.ConversationId}/close", null), HttpStatusCode.OK);

        Assert.DoesNotContain(_publisher.Events, e => e.ChannelId == webchat);
    }

    [Fact]
    public async Task AnOversizeOrForbiddenAttachmentIsRefusedBeforeAnythingIsQueued()
    {
        var (channel, conversationId, _) = await ReceivedAsync();
        var tenant = channel.Tenant;

        var big = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"{Conversations(tenant)}/{conversationId}/messages",
            new { text = "file", attachments = new[] { new { fileName = "big.bin", contentType = "application/octet-stream", contentBase64 = Convert.ToBase64String(new byte[600 * 1024]) } } });
        var html = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"{Conversations(tenant)}/{conversationId}/messages",
            new { text = "file", attachments = new[] { new { fileName = "x.html", contentType = "text/html", contentBase64 = "PGI+aGk8L2I+" } } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.NotNull((await Arrange.ReadAsync(html, HttpStatusCode.BadRequest))["errors"]!["attachments[0].contentType"]);
        var history = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"{Conversations(tenant)}/{conversationId}/messages"), HttpStatusCode.OK);
        Assert.Single(history["items"]!.AsArray());
    }

    [Fact]
    public async Task ListingFiltersByChannelContactAndStatusAndPages()
    {
        var channel = await _app.OmniChannelAsync();
        var other = await _app.OmniChannelAsync(channel.Tenant);
        var tenant = channel.Tenant;
        for (var i = 0; i < 5; i++)
        {
            await ReceivedAsync(channel, $"erp-{i}", contact: $"cust-{i}");
        }

        var (_, toClose, _) = await ReceivedAsync(other, "erp-x", contact: "cust-0");
        await _app.As(tenant.ManagementKey).PostAsync($"{Conversations(tenant)}/{toClose}/close", null);

        var ids = new List<string>();
        string? token = null;
        do
        {
            var page = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync(
                $"{Conversations(tenant)}?channelId={channel.ChannelId}&limit=2" + (token is null ? "" : $"&continuationToken={token}")), HttpStatusCode.OK);
            ids.AddRange(page["items"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()));
            token = page["continuationToken"]?.GetValue<string>();
        }
        while (token is not null);

        Assert.Equal(5, ids.Distinct().Count());
        var byContact = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"{Conversations(tenant)}?contactExternalId=cust-0"), HttpStatusCode.OK);
        Assert.Equal(2, byContact["items"]!.AsArray().Count);
        var closed = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"{Conversations(tenant)}?status=closed"), HttpStatusCode.OK);
        Assert.Equal([toClose], closed["items"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()));
        var bad = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"{Conversations(tenant)}?status=pending&limit=0"), HttpStatusCode.BadRequest);
        Assert.NotNull(bad["errors"]!["status"]);
        Assert.NotNull(bad["errors"]!["limit"]);
    }

    [Fact]
    public async Task AnotherCompanysManagementKeyGetsNotFoundForEveryConversationRoute()
    {
        var (victim, conversationId, _) = await ReceivedAsync();
        var attacker = await _app.TenantAsync("Attacker");
        var paths = new[]
        {
            ("GET", $"{Conversations(victim.Tenant)}/{conversationId}"),
            ("GET", $"{Conversations(victim.Tenant)}/{conversationId}/messages"),
            ("POST", $"{Conversations(victim.Tenant)}/{conversationId}/messages"),
            ("POST", $"{Conversations(victim.Tenant)}/{conversationId}/close"),
            ("GET", $"{Conversations(attacker)}/{conversationId}"),
            ("GET", $"{Conversations(attacker)}/{conversationId}/messages"),
            ("POST", $"{Conversations(attacker)}/{conversationId}/messages"),
            ("POST", $"{Conversations(attacker)}/{conversationId}/close"),
        };

        foreach (var (method, path) in paths)
        {
            var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? JsonContent.Create(new { text = "pwned" }) : null };
            var response = await _app.As(attacker.ManagementKey).SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path}: {(int)response.StatusCode}");
        }

        var own = await Arrange.ReadAsync(await _app.As(attacker.ManagementKey).GetAsync(Conversations(attacker)), HttpStatusCode.OK);
        Assert.Empty(own["items"]!.AsArray());
        var history = await Arrange.ReadAsync(await _app.As(victim.Tenant.ManagementKey).GetAsync($"{Conversations(victim.Tenant)}/{conversationId}/messages"), HttpStatusCode.OK);
        Assert.Single(history["items"]!.AsArray());
        var conversation = await Arrange.ReadAsync(await _app.As(victim.Tenant.ManagementKey).GetAsync($"{Conversations(victim.Tenant)}/{conversationId}"), HttpStatusCode.OK);
        Assert.Equal("open", conversation["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheAuditOfMessagesShowsAChannelKeyItsOwnChannelOnly()
    {
        var (channel, conversationId, inboundId) = await ReceivedAsync();
        var (other, _, otherId) = await ReceivedAsync(await _app.OmniChannelAsync(channel.Tenant), "erp-other");
        var sent = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"{Conversations(channel.Tenant)}/{conversationId}/messages", new { text = "reply" }), HttpStatusCode.Accepted);

        var all = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/messages"), HttpStatusCode.OK);
        var outbound = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/messages?direction=outbound"), HttpStatusCode.OK);
        var future = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync($"/api/audit/messages?since={DateTimeOffset.UtcNow.AddMinutes(5):O}".Replace("+", "%2B")), HttpStatusCode.OK);
        var naming = await _app.As(channel.ApiKey).GetAsync($"/api/audit/messages?channelId={other.ChannelId}");

        Assert.Equal([inboundId, sent["messageId"]!.GetValue<string>()], all["items"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
        Assert.DoesNotContain(otherId, all.ToJsonString());
        Assert.Equal([sent["messageId"]!.GetValue<string>()], outbound["items"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
        Assert.Empty(future["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, naming.StatusCode);
    }

    [Fact]
    public async Task TheAuditOfMessagesTakesAManagementKeyWithAuditReadAndAChannelIdOfItsCompany()
    {
        var (channel, _, inboundId) = await ReceivedAsync();
        var auditor = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "audit:read");
        var noScope = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "conversations:read");
        var stranger = await _app.TenantAsync("Stranger");

        var read = await Arrange.ReadAsync(await _app.As(auditor).GetAsync($"/api/audit/messages?channelId={channel.ChannelId}"), HttpStatusCode.OK);
        var withoutChannel = await _app.As(auditor).GetAsync("/api/audit/messages");
        var withoutScope = await _app.As(noScope).GetAsync($"/api/audit/messages?channelId={channel.ChannelId}");
        var otherCompany = await _app.As(stranger.ManagementKey).GetAsync($"/api/audit/messages?channelId={channel.ChannelId}");
        var badDirection = await _app.As(auditor).GetAsync($"/api/audit/messages?channelId={channel.ChannelId}&direction=sideways");

        Assert.Equal([inboundId], read["items"]!.AsArray().Select(m => m!["id"]!.GetValue<string>()));
        Assert.NotNull((await Arrange.ReadAsync(withoutChannel, HttpStatusCode.BadRequest))["errors"]!["channelId"]);
        Assert.Equal(HttpStatusCode.Forbidden, withoutScope.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherCompany.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badDirection.StatusCode);
    }

    [Fact]
    public async Task ADeletedChannelsHistoryStaysReadable()
    {
        var (channel, conversationId, inboundId) = await ReceivedAsync();
        var auditor = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "audit:read");
        await _app.As(channel.Tenant.ManagementKey).DeleteAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}");

        var history = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"{Conversations(channel.Tenant)}/{conversationId}/messages"), HttpStatusCode.OK);
        var audit = await Arrange.ReadAsync(await _app.As(auditor).GetAsync($"/api/audit/messages?channelId={channel.ChannelId}"), HttpStatusCode.OK);
        var send = await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync($"{Conversations(channel.Tenant)}/{conversationId}/messages", new { text = "hi" });

        Assert.Equal(inboundId, history["items"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(inboundId, audit["items"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, send.StatusCode);
    }
}
