using System.Net;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webhooks;

/// <summary>GET /api/audit/deliveries and friends: a channel's own deliveries only, filtered and paged.</summary>
public sealed class WebhookAuditTests(AzuriteFixture azurite) : IAsyncLifetime
{
    // Nothing is delivered here (no local triggers): deliveries stay pending, which is all these tests read.
    private readonly OmniApp _app = WebhookTestApp.Create(azurite, runLocally: false);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static List<string> Ids(JsonObject page) => page["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();

    [Fact]
    public async Task AChannelKeySeesOnlyItsOwnChannelsDeliveries()
    {
        var tenant = await _app.TenantAsync();
        var mine = await _app.OmniChannelAsync(tenant, "http://127.0.0.1:9/a");
        var other = await _app.OmniChannelAsync(tenant, "http://127.0.0.1:9/b");
        var myDelivery = await _app.PublishAsync(mine);
        var otherDelivery = await _app.PublishAsync(other);

        var list = await Arrange.ReadAsync(await _app.As(mine.ApiKey).GetAsync("/api/audit/deliveries"), HttpStatusCode.OK);
        var get = await _app.As(mine.ApiKey).GetAsync($"/api/audit/deliveries/{otherDelivery}");
        var redeliver = await _app.As(mine.ApiKey).PostAsync($"/api/audit/deliveries/{otherDelivery}/redeliver", null);
        var foreignChannel = await _app.As(mine.ApiKey).GetAsync($"/api/audit/deliveries?channelId={other.ChannelId}");

        Assert.Equal([myDelivery!], Ids(list));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, redeliver.StatusCode);
        // A channel key is bound to its channel: naming another one is "not found".
        Assert.Equal(HttpStatusCode.NotFound, foreignChannel.StatusCode);
    }

    [Fact]
    public async Task TheApiKeyHeaderIsAcceptedAndTheDeliveryCarriesItsEvent()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");
        var id = await _app.PublishAsync(channel, "conteúdo do evento");
        using var client = _app.Anonymous();
        client.DefaultRequestHeaders.Add("X-Api-Key", channel.ApiKey);

        var delivery = await Arrange.ReadAsync(await client.GetAsync($"/api/audit/deliveries/{id}"), HttpStatusCode.OK);

        Assert.Equal("pending", delivery["status"]!.GetValue<string>());
        Assert.Equal("message.created", delivery["eventType"]!.GetValue<string>());
        Assert.Equal(channel.ChannelId, delivery["channelId"]!.GetValue<string>());
        Assert.Empty(delivery["attempts"]!.AsArray());
        Assert.NotNull(delivery["nextAttemptAt"]);
        Assert.Equal("conteúdo do evento", delivery["payload"]!["data"]!["text"]!.GetValue<string>());
        Assert.DoesNotContain("whsec_", delivery.ToJsonString());
    }

    [Fact]
    public async Task AManagementKeyWithAuditReadNamesAChannelOfItsOwnCompany()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");
        var id = await _app.PublishAsync(channel);
        var auditor = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "audit:read");
        var reader = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "channels:read");
        var stranger = await _app.TenantAsync("Outra");

        var list = await _app.As(auditor).GetAsync($"/api/audit/deliveries?channelId={channel.ChannelId}");
        var one = await _app.As(auditor).GetAsync($"/api/audit/deliveries/{id}?channelId={channel.ChannelId}");
        var noChannel = await _app.As(auditor).GetAsync("/api/audit/deliveries");
        var noScope = await _app.As(reader).GetAsync($"/api/audit/deliveries?channelId={channel.ChannelId}");
        var otherCompany = await _app.As(stranger.ManagementKey).GetAsync($"/api/audit/deliveries?channelId={channel.ChannelId}");
        var otherCompanyOne = await _app.As(stranger.ManagementKey).GetAsync($"/api/audit/deliveries/{id}?channelId={channel.ChannelId}");
        var otherCompanyRedeliver = await _app.As(stranger.ManagementKey).PostAsync($"/api/audit/deliveries/{id}/redeliver?channelId={channel.ChannelId}", null);

        Assert.Equal([id!], Ids(await Arrange.ReadAsync(list, HttpStatusCode.OK)));
        await Arrange.ReadAsync(one, HttpStatusCode.OK);
        var required = await Arrange.ReadAsync(noChannel, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", noChannel.Content.Headers.ContentType!.MediaType);
        Assert.Contains("channelId", required["errors"]!["channelId"]![0]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, noScope.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherCompany.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherCompanyOne.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherCompanyRedeliver.StatusCode);
    }

    [Fact]
    public async Task ThePlatformAdminReadsAnyCompanysChannelAuditByNamingTheChannel()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");
        var id = await _app.PublishAsync(channel);
        var admin = _app.Admin();

        var list = await Arrange.ReadAsync(await admin.GetAsync($"/api/audit/deliveries?channelId={channel.ChannelId}"), HttpStatusCode.OK);
        var one = await Arrange.ReadAsync(await admin.GetAsync($"/api/audit/deliveries/{id}?channelId={channel.ChannelId}"), HttpStatusCode.OK);
        var messages = await admin.GetAsync($"/api/audit/messages?channelId={channel.ChannelId}");
        var unknown = await admin.GetAsync("/api/audit/deliveries?channelId=ch_doesnotexist00000000");
        var unnamed = await admin.GetAsync("/api/audit/deliveries");

        Assert.Equal([id!], Ids(list));
        Assert.Equal(channel.ChannelId, one["channelId"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, messages.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.NotNull((await Arrange.ReadAsync(unnamed, HttpStatusCode.BadRequest))["errors"]!["channelId"]);
    }

    [Fact]
    public async Task DeliveriesArePagedNewestFirstWithContinuationTokens()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");
        var published = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            published.Add((await _app.PublishAsync(channel, $"#{i}"))!);
        }

        var first = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync("/api/audit/deliveries?limit=2"), HttpStatusCode.OK);
        var token = first["continuationToken"]!.GetValue<string>();
        var second = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync($"/api/audit/deliveries?limit=2&continuationToken={token}"), HttpStatusCode.OK);

        Assert.Equal([published[2], published[1]], Ids(first));
        Assert.Equal([published[0]], Ids(second));
        Assert.Null(second["continuationToken"]);
    }

    [Fact]
    public async Task StatusAndSinceFilterTheList()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var id = await _app.PublishAsync(channel);
        var client = _app.As(channel.ApiKey);

        var pending = await Arrange.ReadAsync(await client.GetAsync("/api/audit/deliveries?status=pending"), HttpStatusCode.OK);
        var failed = await Arrange.ReadAsync(await client.GetAsync("/api/audit/deliveries?status=failed"), HttpStatusCode.OK);
        var since = await Arrange.ReadAsync(await client.GetAsync($"/api/audit/deliveries?since={Uri.EscapeDataString(before.ToString("O"))}"), HttpStatusCode.OK);
        var future = await Arrange.ReadAsync(await client.GetAsync($"/api/audit/deliveries?since={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(5).ToString("O"))}"), HttpStatusCode.OK);

        Assert.Equal([id!], Ids(pending));
        Assert.Empty(Ids(failed));
        Assert.Equal([id!], Ids(since));
        Assert.Empty(Ids(future));
        Assert.Equal(0, pending["items"]![0]!["attempts"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("status=lost", "status")]
    [InlineData("since=yesterday", "since")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1000", "limit")]
    public async Task BadFiltersAreValidationProblemsNamingTheField(string query, string field)
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");

        var problem = await Arrange.ReadAsync(await _app.As(channel.ApiKey).GetAsync($"/api/audit/deliveries?{query}"), HttpStatusCode.BadRequest);

        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesTheDeliveryRoutesAndTheirBodies()
    {
        var document = await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/openapi/v1.json"), HttpStatusCode.OK);
        var paths = document["paths"]!;

        Assert.NotNull(paths["/api/audit/deliveries"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]);
        Assert.NotNull(paths["/api/audit/deliveries/{deliveryId}"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]);
        Assert.NotNull(paths["/api/audit/deliveries/{deliveryId}/redeliver"]!["post"]!["responses"]!["202"]!["content"]!["application/json"]!["schema"]);
        Assert.NotNull(paths["/api/audit/deliveries/{deliveryId}/redeliver"]!["post"]!["responses"]!["409"]);
        var schemas = document["components"]!["schemas"]!.AsObject();
        Assert.Contains("DeliveryResponse", schemas.Select(s => s.Key));
        Assert.Contains("attempts", schemas["DeliveryResponse"]!["properties"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task MalformedIdsAndTokensAreClientErrors()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: "http://127.0.0.1:9/hook");
        var client = _app.As(channel.ApiKey);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/audit/deliveries/msg_'%20or%20'1'eq'1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/audit/deliveries/key_abc")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/audit/deliveries?continuationToken=%%%")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/audit/deliveries?limit=many")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.Anonymous().GetAsync("/api/audit/deliveries")).StatusCode);
    }
}
