using System.Net;
using System.Text;
using System.Text.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webhooks;

/// <summary>DeliverWebhook invoked the way the Functions host does it in Azure: POST /DeliverWebhook with the message JSON-encoded once more.</summary>
public sealed class DeliverWebhookInvocationTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = WebhookTestApp.Create(azurite, runLocally: false);
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync() => _sink = await WebhookSink.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private async Task<HttpResponseMessage> InvokeAsync(string queueMessage, int dequeueCount = 1)
    {
        // The host JSON-encodes a message body once more, and writes numbers as strings.
        var message = JsonSerializer.Serialize(JsonSerializer.Serialize(queueMessage));
        var payload = "{\"Data\":{\"message\":" + message + "},\"Metadata\":{\"DequeueCount\":\"" + dequeueCount + "\",\"Id\":\"\\\"" + Guid.NewGuid() + "\\\"\"}}";
        var request = new HttpRequestMessage(HttpMethod.Post, "/DeliverWebhook") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Azure-Functions-InvocationId", Guid.NewGuid().ToString());
        return await _app.Anonymous().SendAsync(request);
    }

    [Fact]
    public async Task AHostInvocationMakesTheAttemptAndAnswersTheHostsJson()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var id = await _app.PublishAsync(channel);

        var response = await InvokeAsync(WebhookTestApp.TaskMessage(channel, id!));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"Outputs\"", await response.Content.ReadAsStringAsync());
        var request = Assert.Single(_sink.Requests);
        Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, request));
        Assert.Equal("succeeded", (await _app.DeliveryAsync(channel, id!))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMalformedMessageFailsTheInvocationSoTheHostRetriesAndPoisonsIt()
    {
        var response = await InvokeAsync("""{"deliveryId":"msg_x"}""");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("\"Logs\"", await response.Content.ReadAsStringAsync());
    }
}
