using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Credentials;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Hosting;

/// <summary>One company's credentials against every company-scoped route of another: always 404, never a hint.</summary>
public sealed class CrossTenantTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task EveryCompanyRouteAnswersNotFoundToAnotherCompanysKeys()
    {
        var victim = await _app.OmniChannelAsync();
        var attacker = await _app.OmniChannelAsync(await _app.TenantAsync("Attacker"));
        var keys = await Arrange.ReadAsync(await _app.As(victim.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{victim.Tenant.CompanyId}/channels/{victim.ChannelId}/api-keys"), HttpStatusCode.OK);
        var values = new Dictionary<string, string>
        {
            ["companyId"] = victim.Tenant.CompanyId,
            ["channelId"] = victim.ChannelId,
            ["keyId"] = keys["items"]![0]!["id"]!.GetValue<string>(),
            ["serviceId"] = victim.Tenant.ServiceId,
            ["conversationId"] = (await Arrange.ReadAsync(await _app.As(victim.ApiKey).PostAsJsonAsync("/api/receive_hook",
                new { externalId = "erp-1", contact = new { externalId = "cust-1" }, text = "hi" }), HttpStatusCode.Accepted))["conversationId"]!.GetValue<string>(),
        };
        var routes = RouteCatalog.ApiRoutes(_app).Where(r => r.Pattern.StartsWith("/api/companies/{companyId}", StringComparison.Ordinal)).ToList();
        Assert.True(routes.Count >= 15, $"Expected the company routes, found {routes.Count}.");

        var failures = new List<string>();
        foreach (var (method, pattern) in routes)
        {
            foreach (var (who, key) in new[] { ("management key", attacker.Tenant.ManagementKey), ("channel key", attacker.ApiKey) })
            {
                var request = new HttpRequestMessage(new HttpMethod(method), RouteCatalog.Fill(pattern, values));
                if (method is "POST" or "PUT")
                {
                    request.Content = JsonContent.Create(new { name = "x", type = "webchat", serviceId = victim.Tenant.ServiceId, settings = new { allowedOrigins = new[] { "https://a.example.com" } }, scopes = new[] { "channels:read" } });
                }

                var response = await _app.As(key).SendAsync(request);
                if (response.StatusCode != HttpStatusCode.NotFound)
                {
                    failures.Add($"{method} {pattern} with the other company's {who}: {(int)response.StatusCode}");
                }
            }
        }

        Assert.Empty(failures);
        // Nothing changed on the victim's side.
        var channel = await Arrange.ReadAsync(await _app.As(victim.Tenant.ManagementKey).GetAsync($"/api/companies/{victim.Tenant.CompanyId}/channels/{victim.ChannelId}"), HttpStatusCode.OK);
        Assert.Equal("Canal", channel["name"]!.GetValue<string>());
        Assert.NotNull(await _app.Services.GetRequiredService<ICredentialStore>().ResolveAsync(victim.ApiKey));
    }

    [Fact]
    public async Task AnotherCompanysChannelIsNotFoundThroughTheCallersOwnCompany()
    {
        var victim = await _app.OmniChannelAsync();
        var attacker = await _app.TenantAsync("Attacker");

        var read = await _app.As(attacker.ManagementKey).GetAsync($"/api/companies/{attacker.CompanyId}/channels/{victim.ChannelId}");
        var update = await _app.As(attacker.ManagementKey).PutAsJsonAsync($"/api/companies/{attacker.CompanyId}/channels/{victim.ChannelId}",
            new { name = "pwned", serviceId = attacker.ServiceId, settings = new { webhookUrl = "https://evil.example.com" } });
        var keys = await _app.As(attacker.ManagementKey).GetAsync($"/api/companies/{attacker.CompanyId}/channels/{victim.ChannelId}/api-keys");

        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, update.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, keys.StatusCode);
    }

    [Fact]
    public async Task AnotherCompanysAuditEventsAreInvisible()
    {
        var a = await _app.TenantAsync("A");
        var b = await _app.TenantAsync("B");

        var events = await Arrange.ReadAsync(await _app.As(b.ManagementKey).GetAsync($"/api/companies/{b.CompanyId}/audit/events"), HttpStatusCode.OK);

        Assert.DoesNotContain(a.CompanyId, events.ToJsonString());
        Assert.DoesNotContain(a.ServiceId, events.ToJsonString());
    }
}
