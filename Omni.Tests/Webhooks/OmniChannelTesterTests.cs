using System.Net;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webhooks;

/// <summary>POST …/channels/{id}/test on an omni channel: one signed webhook.test request to a real local endpoint.</summary>
public sealed class OmniChannelTesterTests(AzuriteFixture azurite) : IAsyncLifetime
{
    // No local triggers: a delivery row, had the test made one, would stay visible in the audit.
    private readonly OmniApp _app = WebhookTestApp.Create(azurite, runLocally: false);
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync() => _sink = await WebhookSink.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private async Task<JsonObject> TestAsync(TestOmniChannel channel) =>
        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null), HttpStatusCode.OK);

    [Fact]
    public async Task TheTestPostsOneSignedWebhookTestEventAndRecordsNoDelivery()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());

        var result = await TestAsync(channel);

        Assert.True(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        var check = Assert.Single(result["checks"]!.AsArray())!;
        Assert.Equal("webhook", check["name"]!.GetValue<string>());
        Assert.True(check["ok"]!.GetValue<bool>());
        var request = Assert.Single(_sink.Requests);
        Assert.StartsWith("msg_", request.WebhookId);
        Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, request), "The test request does not verify with the channel's secret.");
        var body = JsonNode.Parse(request.Body)!.AsObject();
        Assert.Equal("webhook.test", body["type"]!.GetValue<string>());
        Assert.Equal(channel.ChannelId, body["data"]!["channelId"]!.GetValue<string>());
        var deliveries = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        Assert.Empty(deliveries["items"]!.AsArray());
    }

    [Fact]
    public async Task AnEndpointThatAnswersAnErrorOrCannotBeReachedFailsTheCheckSayingWhich()
    {
        _sink.Respond = _ => new SinkReply(503);
        var failing = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var closed = await _app.OmniChannelAsync(failing.Tenant, webhookUrl: "http://127.0.0.1:9/hook");

        var answered = await TestAsync(failing);
        var unreachable = await TestAsync(closed);

        Assert.False(answered["ok"]!.GetValue<bool>());
        Assert.Contains("503", answered["checks"]![0]!["error"]!.GetValue<string>());
        Assert.Contains("webhook", answered["message"]!.GetValue<string>());
        Assert.False(unreachable["ok"]!.GetValue<bool>());
        Assert.Contains("Could not reach", unreachable["checks"]![0]!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnotherCompanysKeyCannotTestTheChannel()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var stranger = await _app.TenantAsync("Outra");

        var response = await _app.As(stranger.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null);
        var ownCompany = await _app.As(stranger.ManagementKey).PostAsync($"/api/companies/{stranger.CompanyId}/channels/{channel.ChannelId}/test", null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, ownCompany.StatusCode);
        Assert.Empty(_sink.Requests);
    }
}
