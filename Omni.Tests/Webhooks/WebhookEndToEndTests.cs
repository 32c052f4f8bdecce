using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webhooks;

/// <summary>
/// The whole path through the public API: an integrator's message opens a conversation, the agent answers or
/// closes it, and the integrator's endpoint gets the signed event via DeliverWebhook.
/// </summary>
public sealed class WebhookEndToEndTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = WebhookTestApp.Create(azurite);
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = await WebhookSink.StartAsync();
        _app.StartServer();
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
            new { externalId = "erp-4711", contact = new { externalId = "cust-42", name = "Maria" }, text = "Meu pedido não chegou" }), HttpStatusCode.Accepted);
        return (channel, received["conversationId"]!.GetValue<string>());
    }

    private async Task<JsonObject> MessageWhenAsync(TestOmniChannel channel, string conversationId, string messageId, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        JsonObject? message;
        do
        {
            var history = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
                $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages"), HttpStatusCode.OK);
            message = history["items"]!.AsArray().Select(m => m!.AsObject()).FirstOrDefault(m => m["id"]!.GetValue<string>() == messageId);
            if (message?["status"]?.GetValue<string>() == status)
            {
                return message;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"Message {messageId} did not become {status}: {message?.ToJsonString()}");
        return message!;
    }

    [Fact]
    public async Task AnOutboundMessageOnAnOmniConversationReachesTheSinkAsMessageCreated()
    {
        var (channel, conversationId) = await ConversationAsync();

        var accepted = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "Já verificamos, chega amanhã." }), HttpStatusCode.Accepted);
        var messageId = accepted["messageId"]!.GetValue<string>();

        var request = (await _sink.WaitForAsync(1))[0];
        Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, request));
        var body = JsonNode.Parse(request.Body)!.AsObject();
        Assert.Equal("message.created", body["type"]!.GetValue<string>());
        var data = body["data"]!;
        Assert.Equal(messageId, data["messageId"]!.GetValue<string>());
        Assert.Equal(conversationId, data["conversationId"]!.GetValue<string>());
        Assert.Equal(channel.ChannelId, data["channelId"]!.GetValue<string>());
        Assert.Equal("outbound", data["direction"]!.GetValue<string>());
        Assert.Equal("Já verificamos, chega amanhã.", data["text"]!.GetValue<string>());
        Assert.Equal("cust-42", data["contact"]!["externalId"]!.GetValue<string>());
        Assert.Empty(data["attachments"]!.AsArray());
        await MessageWhenAsync(channel, conversationId, messageId, "sent");
        var deliveries = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        Assert.Equal(messageId, Assert.Single(deliveries["items"]!.AsArray())!["messageId"]!.GetValue<string>());
    }

    [Fact]
    public async Task ClosingAConversationSendsConversationClosed()
    {
        var (channel, conversationId) = await ConversationAsync();

        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);

        var request = (await _sink.WaitForAsync(1))[0];
        Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, request));
        var body = JsonNode.Parse(request.Body)!.AsObject();
        Assert.Equal("conversation.closed", body["type"]!.GetValue<string>());
        Assert.Equal(conversationId, body["data"]!["conversationId"]!.GetValue<string>());
        Assert.Equal("cust-42", body["data"]!["contact"]!["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMessageWhoseWebhookFailsForGoodIsMarkedFailedAndARedeliveryMakesItSent()
    {
        var up = false;
        _sink.Respond = _ => up ? new SinkReply(200) : new SinkReply(500);
        var (channel, conversationId) = await ConversationAsync();

        var accepted = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "Olá" }), HttpStatusCode.Accepted);
        var messageId = accepted["messageId"]!.GetValue<string>();

        var failed = await MessageWhenAsync(channel, conversationId, messageId, "failed");
        Assert.Contains("did not accept", failed["error"]!.GetValue<string>());
        var deliveries = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries?status=failed"), HttpStatusCode.OK);
        var deliveryId = Assert.Single(deliveries["items"]!.AsArray())!["id"]!.GetValue<string>();

        up = true;
        Assert.Equal(HttpStatusCode.Accepted, (await _app.As(channel.ApiKey).PostAsync($"/api/audit/deliveries/{deliveryId}/redeliver", null)).StatusCode);

        await MessageWhenAsync(channel, conversationId, messageId, "sent");
    }
}
