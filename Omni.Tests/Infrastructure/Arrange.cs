using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Omni.Tests.Infrastructure;

/// <summary>A company made for one test, with a management key holding every scope, and the ids tests usually need.</summary>
public sealed record TestTenant(string CompanyId, string ManagementKey, string ServiceId);

public sealed record TestOmniChannel(TestTenant Tenant, string ChannelId, string ApiKey, string WebhookSecret);

/// <summary>Arranges tenants through the public API only, as an integrator would.</summary>
public static class Arrange
{
    public static readonly string[] AllScopes =
        ["channels:read", "channels:write", "settings:general", "keys:write", "conversations:read", "conversations:write", "audit:read", "voice:write"];

    public static async Task<TestTenant> TenantAsync(this OmniApp app, string name = "Acme")
    {
        var admin = app.Admin();
        var company = await ReadAsync(await admin.PostAsJsonAsync("/api/companies", new { name }), HttpStatusCode.Created);
        var companyId = company["id"]!.GetValue<string>();
        var key = await app.ManagementKeyAsync(companyId, AllScopes);
        var service = await ReadAsync(await app.As(key).PostAsJsonAsync($"/api/companies/{companyId}/services", new { name = "Suporte" }), HttpStatusCode.Created);
        return new TestTenant(companyId, key, service["id"]!.GetValue<string>());
    }

    public static async Task<string> ManagementKeyAsync(this OmniApp app, string companyId, params string[] scopes)
    {
        var created = await ReadAsync(await app.Admin().PostAsJsonAsync($"/api/companies/{companyId}/management-keys", new { name = "test", scopes }), HttpStatusCode.Created);
        return created["key"]!.GetValue<string>();
    }

    public static async Task<JsonObject> ChannelAsync(this OmniApp app, TestTenant tenant, string type, object settings, string name = "Canal")
    {
        var response = await app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels",
            new { type, name, serviceId = tenant.ServiceId, settings });
        return await ReadAsync(response, HttpStatusCode.Created);
    }

    public static async Task<TestOmniChannel> OmniChannelAsync(this OmniApp app, TestTenant? tenant = null, string webhookUrl = "https://erp.example.com/hooks/omni")
    {
        tenant ??= await app.TenantAsync();
        var channel = await app.ChannelAsync(tenant, "omni", new { webhookUrl });
        var channelId = channel["id"]!.GetValue<string>();
        var key = await ReadAsync(await app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/api-keys", new { name = "erp" }), HttpStatusCode.Created);
        return new TestOmniChannel(tenant, channelId, key["key"]!.GetValue<string>(), channel["webhookSecret"]!.GetValue<string>());
    }

    /// <summary>Asserts the status (showing the body when it differs) and parses the JSON object.</summary>
    public static async Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected} but got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }
}
