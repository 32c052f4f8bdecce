using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Conversations;

/// <summary>
/// A close records why: an agent's close is <c>agent</c>, an expiry's <c>expired</c>, in the conversation
/// (<c>closeReason</c>) and in <c>conversation.closed</c> (<c>reason</c>); an expiry closes only a conversation still idle.
/// </summary>
public sealed class ConversationCloseReasonTests : IAsyncLifetime
{
    private readonly RecordingWebhookPublisher _publisher = new();
    private readonly OmniApp _app;

    public ConversationCloseReasonTests(AzuriteFixture azurite) =>
        _app = new OmniApp(azurite, configureServices: services => services.AddSingleton<IWebhookPublisher>(_publisher));

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private IConversationStore Store => _app.Services.GetRequiredService<IConversationStore>();

    private async Task<(TestOmniChannel Channel, Conversation Conversation)> ReceivedAsync()
    {
        var channel = await _app.OmniChannelAsync();
        var accepted = await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook", ReceiveHookTests.Body("erp-1", "cust-42")), HttpStatusCode.Accepted);
        return (channel, (await Store.GetConversationAsync(channel.Tenant.CompanyId, accepted["conversationId"]!.GetValue<string>()))!);
    }

    private string ReasonPublishedFor(string conversationId) =>
        Assert.Single(_publisher.Events, e => e.EventType == WebhookEventTypes.ConversationClosed && e.Data["conversationId"]!.GetValue<string>() == conversationId)
            .Data["reason"]!.GetValue<string>();

    [Fact]
    public async Task AnAgentsCloseHasReasonAgentInTheConversationAndInConversationClosed()
    {
        var (channel, conversation) = await ReceivedAsync();
        var path = $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversation.Id}";

        var closed = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync($"{path}/close", null), HttpStatusCode.OK);

        Assert.Equal("agent", closed["closeReason"]!.GetValue<string>());
        Assert.Equal("agent", (await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(path), HttpStatusCode.OK))["closeReason"]!.GetValue<string>());
        Assert.Equal("agent", ReasonPublishedFor(conversation.Id));
    }

    [Fact]
    public async Task AnOpenConversationHasNoCloseReason()
    {
        var (channel, conversation) = await ReceivedAsync();

        var open = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversation.Id}"), HttpStatusCode.OK);

        Assert.Equal("open", open["status"]!.GetValue<string>());
        Assert.Null(open["closeReason"]);
    }

    [Fact]
    public async Task AnExpiredCloseHasReasonExpiredInTheConversationAndInConversationClosed()
    {
        var (channel, conversation) = await ReceivedAsync();

        var expired = (await Store.ExpireAsync(channel.Tenant.CompanyId, conversation.Id, conversation.LastInboundAt!.Value))!;
        await _app.Services.GetRequiredService<OutboxHandOff>().HandOnAsync(
            _app.Services.GetRequiredService<ConversationOutbox>().ForClose(expired.CompanyId, expired.Id, expired.ClosedAt!.Value));

        Assert.Equal(ConversationStatus.Closed, expired.Status);
        Assert.Equal(ConversationCloseReason.Expired, (await Store.GetConversationAsync(channel.Tenant.CompanyId, conversation.Id))!.CloseReason);
        Assert.Equal("expired", ReasonPublishedFor(conversation.Id));
    }

    [Fact]
    public async Task AnExpiryLeavesOpenAConversationTheCustomerWroteInAfterItsIdleTime()
    {
        var (channel, conversation) = await ReceivedAsync();

        var kept = (await Store.ExpireAsync(channel.Tenant.CompanyId, conversation.Id, conversation.LastInboundAt!.Value - TimeSpan.FromTicks(1)))!;

        Assert.Equal(ConversationStatus.Open, kept.Status);
        Assert.Null(kept.CloseReason);
        Assert.Equal(ConversationStatus.Open, (await Store.GetConversationAsync(channel.Tenant.CompanyId, conversation.Id))!.Status);
        Assert.DoesNotContain(_publisher.Events, e => e.EventType == WebhookEventTypes.ConversationClosed);
    }

    [Fact]
    public async Task AnExpiryOfAConversationAnAgentClosedKeepsTheAgentsClose()
    {
        var (channel, conversation) = await ReceivedAsync();
        var byAgent = (await Store.CloseAsync(channel.Tenant.CompanyId, conversation.Id))!;

        var after = (await Store.ExpireAsync(channel.Tenant.CompanyId, conversation.Id, DateTimeOffset.UtcNow + TimeSpan.FromDays(1)))!;

        Assert.Equal(ConversationCloseReason.Agent, after.CloseReason);
        Assert.Equal(byAgent.ClosedAt, after.ClosedAt);
    }
}
