using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Channels;

public sealed class ChannelValidationTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);
    private TestTenant _tenant = null!;

    public async ValueTask InitializeAsync() => _tenant = await _app.TenantAsync();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    public static TheoryData<string, string, object?, string> InvalidSettings => new()
    {
        { "omni", "webhookUrl", "http://erp.example.com/hook", "settings.webhookUrl" },
        { "omni", "webhookUrl", "https://10.1.2.3/hook", "settings.webhookUrl" },
        { "omni", "webhookUrl", "https://169.254.169.254/latest", "settings.webhookUrl" },
        { "omni", "webhookUrl", "https://168.63.129.16/", "settings.webhookUrl" },
        { "omni", "webhookUrl", "https://[::1]/hook", "settings.webhookUrl" },
        { "omni", "webhookUrl", "https://localhost/hook", "settings.webhookUrl" },
        { "omni", "webhookUrl", "not a url", "settings.webhookUrl" },
        { "omni", "webhookUrl", null, "settings.webhookUrl" },
        { "omni", "webhookUrl", 42, "settings.webhookUrl" },
        { "email", "address", "not-an-address", "settings.address" },
        { "email", "password", null, "settings.password" },
        { "email", "password", "", "settings.password" },
        { "email", "incoming", new { protocol = "ftp", host = "imap.acme.com.br", port = 993, ssl = true }, "settings.incoming.protocol" },
        { "email", "incoming", new { protocol = "imap", host = "imap.acme.com.br", port = 0, ssl = true }, "settings.incoming.port" },
        { "email", "incoming", new { protocol = "imap", host = "imap.acme.com.br", port = 65536, ssl = true }, "settings.incoming.port" },
        { "email", "incoming", new { protocol = "pop3", host = "imap.acme.com.br", port = 995, ssl = "yes" }, "settings.incoming.ssl" },
        { "email", "outgoing", new { host = "smtp acme!", port = 587, ssl = false }, "settings.outgoing.host" },
        { "email", "outgoing", new { port = 587, ssl = false }, "settings.outgoing.host" },
        { "email", "outgoing", null, "settings.outgoing" },
        { "email", "pollSeconds", 5, "settings.pollSeconds" },
        { "microsoft-email", "clientId", "not-a-guid", "settings.clientId" },
        { "microsoft-email", "tenantId", "not a tenant", "settings.tenantId" },
        { "microsoft-email", "clientSecret", null, "settings.clientSecret" },
        { "microsoft-email", "mailboxId", null, "settings.mailboxId" },
        { "whatsapp", "number", "5511", "settings.number" },
        { "whatsapp", "number", "551133334444", "settings.number" },
        { "whatsapp", "number", "abc", "settings.number" },
        { "whatsapp", "expirationMinutes", 0, "settings.expirationMinutes" },
        { "whatsapp", "returnToBot", true, "settings.botId" },
        { "whatsapp", "provider", "carrier-pigeon", "settings.provider" },
        { "whatsapp", "hsm", null, "settings.hsm" },
        { "instagram", "accountEmail", "nope", "settings.accountEmail" },
        { "instagram", "appSecret", null, "settings.appSecret" },
        { "webchat", "allowedOrigins", new[] { "https://shop.example.com/path" }, "settings.allowedOrigins[0]" },
        { "webchat", "allowedOrigins", new[] { "ftp://shop.example.com" }, "settings.allowedOrigins[0]" },
        { "webchat", "allowedOrigins", "https://shop.example.com", "settings.allowedOrigins" },
        { "mercadolivre", "sellerId", "abc", "settings.sellerId" },
        { "mercadolivre", "refreshToken", null, "settings.refreshToken" },
        { "mercadolivre", "clientSecret", null, "settings.clientSecret" },
        { "mercadolivre", "clientId", "app-1", "settings.clientId" },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task AnInvalidSettingIsRejectedNamingTheField(string type, string field, object? value, string expectedError)
    {
        var settings = value is null ? ChannelSamples.Without(type, field) : ChannelSamples.With(type, field, value);

        var response = await _app.As(_tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels",
            new { type, name = "Canal", serviceId = _tenant.ServiceId, settings });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(expectedError), $"Expected an error for {expectedError}, got: {errors.ToJsonString()}");
    }

    [Fact]
    public async Task AReturnToBotChannelWithABotIsValid()
    {
        // The bot must be one of the company's (Bots/), so the test registers it first.
        var bot = await Arrange.ReadAsync(await _app.As(_tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{_tenant.CompanyId}/bots",
            new { name = "URA", webhookUrl = "https://bot.example.com/hooks" }), HttpStatusCode.Created);
        var botId = bot["id"]!.GetValue<string>();
        var settings = ChannelSamples.With("whatsapp", "returnToBot", true);
        settings["botId"] = botId;

        var created = await _app.ChannelAsync(_tenant, "whatsapp", settings);

        Assert.Equal(botId, created["settings"]!["botId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReturnToBotChannelNamingAnotherCompanysBotIsRejected()
    {
        var other = await _app.TenantAsync("Other");
        var foreign = await Arrange.ReadAsync(await _app.As(other.ManagementKey).PostAsJsonAsync($"/api/companies/{other.CompanyId}/bots",
            new { name = "URA", webhookUrl = "https://bot.example.com/hooks" }), HttpStatusCode.Created);
        foreach (var botId in new[] { foreign["id"]!.GetValue<string>(), "bot-7" })
        {
            var settings = ChannelSamples.With("whatsapp", "returnToBot", true);
            settings["botId"] = botId;

            var problem = await Arrange.ReadAsync(await _app.As(_tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels",
                new { type = "whatsapp", name = "Canal", serviceId = _tenant.ServiceId, settings }), HttpStatusCode.BadRequest);

            Assert.True(problem["errors"]!.AsObject().ContainsKey("settings.botId"), problem.ToJsonString());
        }
    }

    [Fact]
    public async Task AnUnknownTypeAMissingNameAndAnotherCompanysServiceAreEachNamed()
    {
        var other = await _app.TenantAsync("Other");

        var badType = await Arrange.ReadAsync(await _app.As(_tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels",
            new { type = "fax", name = "x", serviceId = _tenant.ServiceId, settings = new { } }), HttpStatusCode.BadRequest);
        var bad = await Arrange.ReadAsync(await _app.As(_tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels",
            new { type = "webchat", serviceId = other.ServiceId, settings = ChannelSamples.Valid["webchat"] }), HttpStatusCode.BadRequest);

        Assert.NotNull(badType["errors"]!["type"]);
        Assert.NotNull(bad["errors"]!["name"]);
        Assert.NotNull(bad["errors"]!["serviceId"]);
    }

    [Fact]
    public async Task ATypeCannotChangeOnUpdate()
    {
        var created = await _app.ChannelAsync(_tenant, "webchat", ChannelSamples.Valid["webchat"]);

        var problem = await Arrange.ReadAsync(await _app.As(_tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels/{created["id"]}",
            new { type = "omni", name = "x", serviceId = _tenant.ServiceId, settings = ChannelSamples.Valid["webchat"] }), HttpStatusCode.BadRequest);

        Assert.NotNull(problem["errors"]!["type"]);
    }

    [Fact]
    public async Task PrivateWebhookTargetsAreAllowedOnlyWhenTheSettingSaysSo()
    {
        await using var local = new OmniApp(azurite, new Dictionary<string, string?> { ["Omni:Webhooks:AllowPrivateTargets"] = "true" });
        var tenant = await local.TenantAsync();

        var created = await local.ChannelAsync(tenant, "omni", new { webhookUrl = "http://127.0.0.1:9999/hook" });

        Assert.Equal("http://127.0.0.1:9999/hook", created["settings"]!["webhookUrl"]!.GetValue<string>());
    }
}
