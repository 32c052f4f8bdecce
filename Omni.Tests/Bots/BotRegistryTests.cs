using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Bots;

/// <summary>Registering bots over HTTP: secrets shown once, URLs checked as channels' are, changes audited, tenants kept apart.</summary>
public sealed class BotRegistryTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static string Bots(TestTenant tenant) => $"/api/companies/{tenant.CompanyId}/bots";

    [Fact]
    public async Task ABotsSecretAndKeyAreShownWhenItIsCreatedAndNeverAgain()
    {
        var tenant = await _app.TenantAsync();

        var created = await Arrange.ReadAsync(await _app.CreateBotAsync(tenant, new { name = "URA", webhookUrl = "https://bot.example.com/hooks" }), HttpStatusCode.Created);

        var id = created["id"]!.GetValue<string>();
        Assert.StartsWith("bot_", id);
        Assert.Equal(("URA", "https://bot.example.com/hooks"), (created["name"]!.GetValue<string>(), created["webhookUrl"]!.GetValue<string>()));
        var secret = created["webhookSecret"]!.GetValue<string>();
        var key = created["key"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.StartsWith("omni_bk_", key);
        var read = await (await _app.As(tenant.ManagementKey).GetAsync($"{Bots(tenant)}/{id}")).Content.ReadAsStringAsync();
        var listed = await (await _app.As(tenant.ManagementKey).GetAsync(Bots(tenant))).Content.ReadAsStringAsync();
        foreach (var body in new[] { read, listed })
        {
            Assert.Contains(id, body);
            Assert.DoesNotContain(secret, body);
            Assert.DoesNotContain(key, body);
            Assert.DoesNotContain("webhookSecret", body);
        }

        Assert.StartsWith(JsonNode.Parse(read)!["keyPrefix"]!.GetValue<string>(), key);
    }

    [Fact]
    public async Task ABotIsRenamedAndPointedElsewhereAndOnceDeletedItsKeyFailsAtOnce()
    {
        var tenant = await _app.TenantAsync();
        var bot = await _app.BotAsync(tenant, "https://bot.example.com/v1");

        var updated = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PutAsJsonAsync($"{Bots(tenant)}/{bot.BotId}",
            new { name = "URA nova", webhookUrl = "https://bot.example.com/v2" }), HttpStatusCode.OK);
        Assert.Equal(("URA nova", "https://bot.example.com/v2"), (updated["name"]!.GetValue<string>(), updated["webhookUrl"]!.GetValue<string>()));
        // A valid bot key on a conversation it does not handle is a 404, not a 401.
        Assert.Equal(HttpStatusCode.NotFound, (await _app.BotSendAsync(bot.Key, "cnv_none", new { text = "oi" })).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await _app.As(tenant.ManagementKey).DeleteAsync($"{Bots(tenant)}/{bot.BotId}")).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(tenant.ManagementKey).GetAsync($"{Bots(tenant)}/{bot.BotId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(tenant.ManagementKey).DeleteAsync($"{Bots(tenant)}/{bot.BotId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.BotSendAsync(bot.Key, "cnv_none", new { text = "oi" })).StatusCode);
    }

    [Theory]
    [InlineData("http://bot.example.com/hooks", "webhookUrl")]
    [InlineData("https://10.1.2.3/hooks", "webhookUrl")]
    [InlineData("https://169.254.169.254/latest", "webhookUrl")]
    [InlineData("não é uma url", "webhookUrl")]
    [InlineData(null, "webhookUrl")]
    public async Task ABotsWebhookUrlIsCheckedAsAChannelsIs(string? webhookUrl, string field)
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.CreateBotAsync(tenant, new { name = "URA", webhookUrl });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
        Assert.Empty((await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync(Bots(tenant)), HttpStatusCode.OK))["items"]!.AsArray());
    }

    [Fact]
    public async Task BadBotBodiesAreProblemsNeverServerErrors()
    {
        var tenant = await _app.TenantAsync();
        var bot = await _app.BotAsync(tenant, "https://bot.example.com/hooks");
        var client = _app.As(tenant.ManagementKey);

        var nameless = await Arrange.ReadAsync(await _app.CreateBotAsync(tenant, new { name = "  ", webhookUrl = "https://bot.example.com/hooks" }), HttpStatusCode.BadRequest);
        var tooLong = await Arrange.ReadAsync(await _app.CreateBotAsync(tenant, new { name = new string('a', 201), webhookUrl = "https://bot.example.com/hooks" }), HttpStatusCode.BadRequest);
        var badUpdate = await Arrange.ReadAsync(await client.PutAsJsonAsync($"{Bots(tenant)}/{bot.BotId}", new { name = "URA", webhookUrl = "ftp://bot.example.com" }), HttpStatusCode.BadRequest);
        var malformed = await client.PostAsync(Bots(tenant), new StringContent("{\"name\": ", System.Text.Encoding.UTF8, "application/json"));
        var wrongType = await client.PostAsync(Bots(tenant), new StringContent("{\"name\": 5, \"webhookUrl\": []}", System.Text.Encoding.UTF8, "application/json"));

        Assert.True(nameless["errors"]!.AsObject().ContainsKey("name"));
        Assert.True(tooLong["errors"]!.AsObject().ContainsKey("name"));
        Assert.True(badUpdate["errors"]!.AsObject().ContainsKey("webhookUrl"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        Assert.Equal("https://bot.example.com/hooks", (await Arrange.ReadAsync(await client.GetAsync($"{Bots(tenant)}/{bot.BotId}"), HttpStatusCode.OK))["webhookUrl"]!.GetValue<string>());
    }

    [Fact]
    public async Task BotChangesAreAuditedUnderTheCallerAndNeverWithASecret()
    {
        var tenant = await _app.TenantAsync();
        var bot = await _app.BotAsync(tenant, "https://bot.example.com/hooks");
        await _app.As(tenant.ManagementKey).PutAsJsonAsync($"{Bots(tenant)}/{bot.BotId}", new { name = "URA Atendimento", webhookUrl = "https://bot.example.com/v2" });
        await _app.As(tenant.ManagementKey).DeleteAsync($"{Bots(tenant)}/{bot.BotId}");

        var audit = await (await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/audit/events")).Content.ReadAsStringAsync();

        var events = JsonNode.Parse(audit)!["items"]!.AsArray().Where(e => e!["target"]!.GetValue<string>() == $"bots/{bot.BotId}").ToList();
        Assert.Equal(["bot.created", "bot.deleted", "bot.updated"], events.Select(e => e!["action"]!.GetValue<string>()).Order());
        Assert.Equal(["webhookUrl"], events.Single(e => e!["action"]!.GetValue<string>() == "bot.updated")!["changedFields"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.DoesNotContain(bot.WebhookSecret, audit);
        Assert.DoesNotContain(bot.Key, audit);
    }

    [Fact]
    public async Task AnotherCompanysBotIsNotFoundOnEveryRoute()
    {
        var owner = await _app.TenantAsync("Acme");
        var other = await _app.TenantAsync("Outra");
        var bot = await _app.BotAsync(owner, "https://bot.example.com/hooks");
        var client = _app.As(other.ManagementKey);
        var path = $"/api/companies/{owner.CompanyId}/bots";

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync(path, new { name = "x", webhookUrl = "https://bot.example.com" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{path}/{bot.BotId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsJsonAsync($"{path}/{bot.BotId}", new { name = "x", webhookUrl = "https://bot.example.com" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"{path}/{bot.BotId}")).StatusCode);
        // Through its own company's routes, the other company's bot id names nothing either.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Bots(other)}/{bot.BotId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"{Bots(other)}/{bot.BotId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _app.As(owner.ManagementKey).GetAsync($"{path}/{bot.BotId}")).StatusCode);
    }

    [Fact]
    public async Task ABotKeyIsNoManagementKeyAndAManagementKeyIsNoBotKey()
    {
        var tenant = await _app.TenantAsync();
        var bot = await _app.BotAsync(tenant, "https://bot.example.com/hooks");
        var readOnly = await _app.ManagementKeyAsync(tenant.CompanyId, "channels:read");

        Assert.Equal(HttpStatusCode.Forbidden, (await _app.As(bot.Key).GetAsync(Bots(tenant))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _app.As(bot.Key).GetAsync($"/api/companies/{tenant.CompanyId}/conversations")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _app.BotSendAsync(tenant.ManagementKey, "cnv_none", new { text = "oi" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await _app.As(readOnly).PostAsJsonAsync(Bots(tenant), new { name = "x", webhookUrl = "https://bot.example.com" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _app.As(readOnly).GetAsync(Bots(tenant))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.Anonymous().PostAsJsonAsync("/api/bots/conversations/cnv_none/handoff", new { serviceId = "svc_x" })).StatusCode);
    }
}
