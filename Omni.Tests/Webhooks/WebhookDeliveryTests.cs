using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Audit;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

/// <summary>Events reach a real local endpoint through the real queue, signed, retried on the schedule and audited.</summary>
public sealed class WebhookDeliveryTests(AzuriteFixture azurite) : IAsyncLifetime
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

    [Fact]
    public async Task AnEventReachesTheSinkSignedWithinFiveSeconds()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());

        var deliveryId = await _app.PublishAsync(channel, "Seu pedido saiu para entrega");

        var request = (await _sink.WaitForAsync(1, TimeSpan.FromSeconds(5)))[0];
        Assert.Equal(deliveryId, request.WebhookId);
        Assert.StartsWith("msg_", request.WebhookId);
        Assert.Equal("application/json", request.ContentType);
        Assert.InRange(long.Parse(request.Timestamp!), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Single(StandardWebhooks.Signatures(request));
        Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, request), "The signature does not verify with the channel's secret.");
        var body = JsonNode.Parse(request.Body)!.AsObject();
        Assert.Equal("message.created", body["type"]!.GetValue<string>());
        Assert.True(DateTimeOffset.TryParse(body["timestamp"]!.GetValue<string>(), out _));
        Assert.Equal("Seu pedido saiu para entrega", body["data"]!["text"]!.GetValue<string>());
        Assert.Equal("outbound", body["data"]!["direction"]!.GetValue<string>());
        Assert.Equal("cust-42", body["data"]!["contact"]!["externalId"]!.GetValue<string>());
        var delivery = await _app.DeliveryWhenAsync(channel, deliveryId!, "succeeded");
        Assert.Equal(200, delivery["lastStatusCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task ASinkThatFailsTwiceGetsTheThirdAttemptWithTheSameIdAndANewerTimestamp()
    {
        _sink.Respond = r => r.Index < 2 ? new SinkReply(500, "{\"error\":\"database down\"}") : new SinkReply(204);
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());

        var deliveryId = await _app.PublishAsync(channel);

        var requests = await _sink.WaitForAsync(3);
        Assert.All(requests, r => Assert.Equal(deliveryId, r.WebhookId));
        Assert.All(requests, r => Assert.Equal(requests[0].Body, r.Body));
        Assert.All(requests, r => Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, r), "Every attempt is signed."));
        Assert.True(long.Parse(requests[1].Timestamp!) > long.Parse(requests[0].Timestamp!), "The second attempt is signed afresh.");
        Assert.True(long.Parse(requests[2].Timestamp!) > long.Parse(requests[1].Timestamp!), "The third attempt is signed afresh.");

        var delivery = await _app.DeliveryWhenAsync(channel, deliveryId!, "succeeded");
        var attempts = delivery["attempts"]!.AsArray();
        Assert.Equal([500, 500, 204], attempts.Select(a => a!["statusCode"]!.GetValue<int>()));
        Assert.Contains("database down", attempts[0]!["responseBody"]!.GetValue<string>());
        Assert.Contains("500", attempts[0]!["error"]!.GetValue<string>());
        Assert.All(attempts, a => Assert.True(a!["elapsedMs"]!.GetValue<long>() >= 0));
        Assert.Null(delivery["nextAttemptAt"]);
        Assert.Equal(3, delivery["attemptCount"]!.GetValue<int>());

        var list = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        var summary = Assert.Single(list["items"]!.AsArray());
        Assert.Equal(3, summary!["attempts"]!.GetValue<int>());
        Assert.Equal("succeeded", summary["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADeliveryFailsAfterTheLastAttemptAndRedeliverSucceeds()
    {
        var up = false;
        _sink.Respond = _ => up ? new SinkReply(200) : new SinkReply(503, "maintenance");
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());

        var deliveryId = await _app.PublishAsync(channel);
        var failed = await _app.DeliveryWhenAsync(channel, deliveryId!, "failed");

        Assert.Equal(3, failed["attempts"]!.AsArray().Count);
        Assert.Equal(503, failed["lastStatusCode"]!.GetValue<int>());
        Assert.Null(failed["nextAttemptAt"]);
        var listed = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries?status=failed"), HttpStatusCode.OK);
        Assert.Equal(deliveryId, Assert.Single(listed["items"]!.AsArray())!["id"]!.GetValue<string>());

        up = true;
        var redeliver = await _app.As(channel.ApiKey).PostAsync($"/api/audit/deliveries/{deliveryId}/redeliver", null);

        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        var succeeded = await _app.DeliveryWhenAsync(channel, deliveryId!, "succeeded");
        Assert.Equal([503, 503, 503, 200], succeeded["attempts"]!.AsArray().Select(a => a!["statusCode"]!.GetValue<int>()));
        Assert.All(_sink.Requests, r => Assert.Equal(deliveryId, r.WebhookId));
        var events = await _app.Services.GetRequiredService<IAuditLog>().ListAsync(channel.Tenant.CompanyId, 50, null);
        Assert.Contains(events.Items, e => e.Action == "webhook-delivery.redelivered");
    }

    [Fact]
    public async Task AGoneAnswerDisablesTheWebhookUntilTheSettingsAreSavedAgain()
    {
        _sink.Respond = _ => new SinkReply(410);
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var channelUrl = $"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}";

        var deliveryId = await _app.PublishAsync(channel);

        var failed = await _app.DeliveryWhenAsync(channel, deliveryId!, "failed");
        Assert.Single(failed["attempts"]!.AsArray());
        Assert.Equal(410, failed["lastStatusCode"]!.GetValue<int>());
        var disabled = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(channelUrl), HttpStatusCode.OK);
        Assert.True(disabled["settings"]!["webhookDisabled"]!.GetValue<bool>());
        var events = await _app.Services.GetRequiredService<IAuditLog>().ListAsync(channel.Tenant.CompanyId, 50, null);
        Assert.Contains(events.Items, e => e.Action == "webhook.disabled" && e.Target == $"channels/{channel.ChannelId}");
        Assert.Null(await _app.PublishAsync(channel));
        Assert.Single(_sink.Requests);

        _sink.Respond = _ => new SinkReply(200);
        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PutAsJsonAsync(channelUrl,
            new { name = "Canal", serviceId = channel.Tenant.ServiceId, settings = new { webhookUrl = _sink.Url() } }), HttpStatusCode.OK);

        var enabled = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(channelUrl), HttpStatusCode.OK);
        Assert.False(enabled["settings"]!["webhookDisabled"]!.GetValue<bool>());
        var again = await _app.PublishAsync(channel);
        Assert.NotNull(again);
        await _app.DeliveryWhenAsync(channel, again!, "succeeded");
    }

    [Fact]
    public async Task ARedirectIsNotFollowed()
    {
        _sink.Respond = r => r.Path == "/hook" ? new SinkReply(302, null, new Dictionary<string, string> { ["Location"] = _sink.Url("/elsewhere") }) : new SinkReply(200);
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());

        var deliveryId = await _app.PublishAsync(channel);

        var failed = await _app.DeliveryWhenAsync(channel, deliveryId!, "failed");
        Assert.All(failed["attempts"]!.AsArray(), a => Assert.Equal(302, a!["statusCode"]!.GetValue<int>()));
        Assert.Contains("Redirects are not followed", failed["lastError"]!.GetValue<string>());
        Assert.DoesNotContain(_sink.Requests, r => r.Path == "/elsewhere");
    }

    [Fact]
    public async Task DuringARotationEachSignatureVerifiesWithItsOwnSecret()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var rotated = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/webhook-secret/rotate", null), HttpStatusCode.OK);
        var newSecret = rotated["webhookSecret"]!.GetValue<string>();

        await _app.PublishAsync(channel);

        var request = (await _sink.WaitForAsync(1))[0];
        var signatures = StandardWebhooks.Signatures(request);
        Assert.Equal(2, signatures.Length);
        Assert.True(StandardWebhooks.Verifies(newSecret, request, signatures[0]), "The first signature is the new secret's.");
        Assert.True(StandardWebhooks.Verifies(channel.WebhookSecret, request, signatures[1]), "The second signature is the previous secret's.");
        Assert.False(StandardWebhooks.Verifies(channel.WebhookSecret, request, signatures[0]));
    }

    [Fact]
    public async Task APayloadTooLargeForTheRowGoesThroughBlobStorageIntact()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var text = string.Concat(Enumerable.Repeat("Linha de um texto longo, com acentuação. ", 3000));

        var deliveryId = await _app.PublishAsync(channel, text);

        var request = (await _sink.WaitForAsync(1))[0];
        Assert.True(request.Body.Length > 100_000);
        Assert.Equal(text, JsonNode.Parse(request.Body)!["data"]!["text"]!.GetValue<string>());
        Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, request));
        var stored = await _app.Services.GetRequiredService<IWebhookDeliveryStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId, deliveryId!);
        Assert.NotNull(stored!.PayloadBlob);
        var delivery = await _app.DeliveryWhenAsync(channel, deliveryId!, "succeeded");
        Assert.Equal(text, delivery["payload"]!["data"]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task PublishingTheSameMessageTwiceKeepsOneDelivery()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());

        var first = await _app.PublishAsync(channel, messageId: "msg_same");
        var second = await _app.PublishAsync(channel, messageId: "msg_same");

        Assert.Equal(first, second);
        await _app.DeliveryWhenAsync(channel, first!, "succeeded");
        var list = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        Assert.Single(list["items"]!.AsArray());
        Assert.Equal(1, (await _app.DeliveryAsync(channel, first!))["attemptCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task PublishingConversationClosedTwiceForOneConversationKeepsOneDelivery()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var publisher = _app.Services.GetRequiredService<IWebhookPublisher>();
        var data = new JsonObject { ["conversationId"] = "cnv_closing", ["channelId"] = channel.ChannelId };

        var ids = await Task.WhenAll(
            publisher.PublishAsync(await _app.ChannelAsync(channel), WebhookEventTypes.ConversationClosed, data),
            publisher.PublishAsync(await _app.ChannelAsync(channel), WebhookEventTypes.ConversationClosed, data));
        var again = await publisher.PublishAsync(await _app.ChannelAsync(channel), WebhookEventTypes.ConversationClosed, data);

        Assert.NotNull(ids[0]);
        Assert.Equal([ids[0], ids[0]], [ids[1], again]);
        await _app.DeliveryWhenAsync(channel, ids[0]!, "succeeded");
        var list = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        Assert.Single(list["items"]!.AsArray());
    }

    [Fact]
    public async Task ASigningSecretThatCannotBeDecryptedFailsTheDeliveryForGoodAndRotatingItMendsTheRedelivery()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var store = _app.Services.GetRequiredService<Omni.Channels.IChannelStore>();
        var stored = await _app.ChannelAsync(channel);
        // What a row encrypted under another secrets key looks like to this app: the right format, a tag that does not verify.
        var foreign = new Dictionary<string, string>(stored.ProtectedSecrets) { [WebhookSecrets.CurrentField] = "v1." + Convert.ToBase64String(new byte[64]) };
        await store.UpdateAsync(stored with { ProtectedSecrets = foreign }, new Dictionary<string, string>());

        var deliveryId = await _app.PublishAsync(channel);

        var failed = await _app.DeliveryWhenAsync(channel, deliveryId!, "failed");
        Assert.Contains("cannot be decrypted", failed["lastError"]!.GetValue<string>());
        Assert.Equal(1, failed["attemptCount"]!.GetValue<int>());
        Assert.Empty(_sink.Requests);
        var t = channel.Tenant;
        var rotated = await Arrange.ReadAsync(await _app.As(t.ManagementKey).PostAsync($"/api/companies/{t.CompanyId}/channels/{channel.ChannelId}/webhook-secret/rotate", null), HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.Accepted, (await _app.As(channel.ApiKey).PostAsync($"/api/audit/deliveries/{deliveryId}/redeliver", null)).StatusCode);
        var request = (await _sink.WaitForAsync(1))[0];
        Assert.Single(StandardWebhooks.Signatures(request));
        Assert.True(StandardWebhooks.VerifiesAny(rotated["webhookSecret"]!.GetValue<string>(), request), "The redelivery is not signed with the new secret.");
        await _app.DeliveryWhenAsync(channel, deliveryId!, "succeeded");
    }

    [Fact]
    public async Task NoSecretOrBodyIsLogged()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url("/hook?token=url-secret-71"));

        var deliveryId = await _app.PublishAsync(channel, "texto-privado-93");
        await _app.DeliveryWhenAsync(channel, deliveryId!, "succeeded");

        var secretPart = channel.WebhookSecret["whsec_".Length..];
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains(secretPart, StringComparison.Ordinal));
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains("texto-privado-93", StringComparison.Ordinal));
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains("url-secret-71", StringComparison.Ordinal));
        Assert.Contains(_app.Logs.Lines, l => l.Contains(deliveryId!, StringComparison.Ordinal));
    }
}
