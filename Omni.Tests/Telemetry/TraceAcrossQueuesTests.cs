using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;
using Omni.Webhooks;

namespace Omni.Tests.Telemetry;

/// <summary>
/// What an operator sees in Azure Monitor, read from in-memory exporters in the app's own pipeline: an agent's reply
/// is one trace from its request through the webhook queue to the POST the integrator gets,
/// the meters count what came in and went out, and nothing exported carries a body, a key or an e-mail address.
/// </summary>
public sealed class TraceAcrossQueuesTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly TelemetryCapture _telemetry = new();
    private OmniApp _app = null!;
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = await WebhookSink.StartAsync();
        _app = WebhookTestApp.Create(azurite, configureServices: _telemetry.Register);
        _app.StartServer();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private string OutboundQueue => _app.Services.GetRequiredService<IOptions<ConversationOptions>>().Value.OutboundQueueName;

    private string WebhookQueue => _app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName;

    /// <summary>
    /// Sends a request inside an activity of the test's own, so its trace is told apart from other test classes' apps
    /// (HttpClient carries the activity's context in traceparent).
    /// </summary>
    private static async Task<(HttpResponseMessage Response, ActivityTraceId TraceId)> TracedAsync(HttpClient client, string path, object body)
    {
        using var test = new Activity("test").SetIdFormat(ActivityIdFormat.W3C);
        test.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        test.Start();
        return (await client.PostAsJsonAsync(path, body), test.TraceId);
    }

    private async Task<(TestOmniChannel Channel, ActivityTraceId Reply, string Text, string Email)> ReplyDeliveredAsync()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var unique = Guid.NewGuid().ToString("N")[..12];
        var email = $"maria.{unique}@example.com";
        var (hook, _) = await TracedAsync(_app.As(channel.ApiKey), "/api/receive_hook",
            new { externalId = "erp-" + unique, contact = new { externalId = "cust-" + unique, name = "Maria", email }, text = "Meu pedido " + unique + " não chegou" });
        var received = await Arrange.ReadAsync(hook, HttpStatusCode.Accepted);
        var text = "Chega amanhã, pedido " + unique;
        var (answer, reply) = await TracedAsync(_app.As(channel.Tenant.ManagementKey),
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{received["conversationId"]!.GetValue<string>()}/messages", new { text });
        await Arrange.ReadAsync(answer, HttpStatusCode.Accepted);
        await _sink.WaitForAsync(1);
        // The delivery's consumer span ends once the attempt is recorded, a moment after the sink answered.
        await Eventually.HoldsAsync(() => Task.FromResult(_telemetry.Trace(reply).Any(s => s.DisplayName == "process " + WebhookQueue)), "the delivery's span has ended");
        return (channel, reply, text, email);
    }

    [Fact]
    public async Task AnAgentsReplyIsOneTraceFromItsRequestThroughTheWebhookQueueToTheWebhookPost()
    {
        var (_, reply, _, _) = await ReplyDeliveredAsync();

        var spans = _telemetry.Trace(reply);
        var request = Assert.Single(spans, s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") is string route && route.EndsWith("/messages", StringComparison.Ordinal));
        Activity ChildOf(Activity parent, ActivityKind kind, string name) =>
            Assert.Single(spans, s => s.ParentSpanId == parent.SpanId && s.Kind == kind && s.DisplayName == name);
        // An omni channel's reply stages its delivery and queues it from the request: the outbound queue is not on its way.
        var sendWebhook = ChildOf(request, ActivityKind.Producer, "send " + WebhookQueue);
        var processWebhook = ChildOf(sendWebhook, ActivityKind.Consumer, "process " + WebhookQueue);
        var post = Assert.Single(spans, s => s.ParentSpanId == processWebhook.SpanId && s.Kind == ActivityKind.Client && s.GetTagItem("server.port") is int port && port == _sink.Port);

        Assert.DoesNotContain(spans, s => s.DisplayName == "send " + OutboundQueue);
        Assert.Equal("DeliverWebhook", processWebhook.GetTagItem("omni.function"));
        Assert.Equal(WebhookQueue, sendWebhook.GetTagItem("messaging.destination.name"));
        Assert.Equal(200, post.GetTagItem("http.response.status_code"));
        // The integrator's endpoint got the context too: its own server span (the sink runs in this process) is the POST's child.
        Assert.Single(spans, s => s.ParentSpanId == post.SpanId && s.Kind == ActivityKind.Server);
    }

    [Fact]
    public async Task TheMetersCountTheMessageInTheReplyOutAndTheDeliveryAttempt()
    {
        await ReplyDeliveredAsync();

        TelemetryCapture.Collect(_app.Services);

        Assert.True(_telemetry.Sum("omni.messages.in", ("omni.channel.kind", "omni"), ("omni.outcome", "accepted")) >= 1);
        Assert.True(_telemetry.Sum("omni.messages.out", ("omni.channel.kind", "omni"), ("omni.outcome", "sent")) >= 1);
        Assert.True(_telemetry.Sum("omni.webhook.delivery.attempts", ("omni.outcome", "succeeded"), ("omni.webhook.event_type", "message.created")) >= 1);
        Assert.True(_telemetry.Sum("omni.webhook.delivery.duration", ("omni.outcome", "succeeded")) >= 1);
    }

    [Fact]
    public async Task NothingExportedCarriesTheMessageTextTheKeysOrTheContactsEmailAddress()
    {
        var (channel, _, text, email) = await ReplyDeliveredAsync();
        TelemetryCapture.Collect(_app.Services);

        var secrets = new[] { text, email, channel.ApiKey, channel.Tenant.ManagementKey, channel.WebhookSecret, _app.AdminToken };
        var texts = _telemetry.EveryText().ToList();

        Assert.NotEmpty(_telemetry.Logs.Snapshot());
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(texts, t => t.Contains(secret, StringComparison.Ordinal));
        }
    }
}
