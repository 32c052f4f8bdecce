using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Tenancy;

public sealed class ManagementKeyTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AManagementKeyIsShownOnceWithItsScopes()
    {
        var tenant = await _app.TenantAsync();

        var created = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/management-keys",
            new { name = "ops", scopes = new[] { "channels:read", "audit:read" } }), HttpStatusCode.Created);

        var key = created["key"]!.GetValue<string>();
        Assert.StartsWith("omni_mk_", key);
        Assert.True(key.Length > 40);
        Assert.StartsWith(created["prefix"]!.GetValue<string>(), key);
        Assert.Equal(["audit:read", "channels:read"], created["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task UnknownOrMissingScopesAreRejectedByName()
    {
        var tenant = await _app.TenantAsync();

        var problem = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/management-keys",
            new { name = "ops", scopes = new[] { "channels:read", "everything" } }), HttpStatusCode.BadRequest);
        var empty = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/management-keys",
            new { name = "ops", scopes = Array.Empty<string>() }), HttpStatusCode.BadRequest);

        Assert.NotNull(problem["errors"]!["scopes[1]"]);
        Assert.NotNull(empty["errors"]!["scopes"]);
    }

    [Fact]
    public async Task ARevokedManagementKeyFailsAtOnce()
    {
        var tenant = await _app.TenantAsync();
        var created = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/management-keys",
            new { name = "temp", scopes = new[] { "channels:read" } }), HttpStatusCode.Created);
        var client = _app.As(created["key"]!.GetValue<string>());
        await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/services"), HttpStatusCode.OK);

        var revoke = await _app.Admin().DeleteAsync($"/api/companies/{tenant.CompanyId}/management-keys/{created["id"]}");

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/services"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task RevokingAnUnknownKeyIsNotFound()
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.Admin().DeleteAsync($"/api/companies/{tenant.CompanyId}/management-keys/mk_unknown");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task AKeyOfAnotherCompanyCannotBeRevokedThroughThisCompany()
    {
        var a = await _app.TenantAsync("A");
        var b = await _app.TenantAsync("B");
        var keyOfB = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{b.CompanyId}/management-keys",
            new { name = "b", scopes = new[] { "channels:read" } }), HttpStatusCode.Created);

        var response = await _app.Admin().DeleteAsync($"/api/companies/{a.CompanyId}/management-keys/{keyOfB["id"]}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await Arrange.ReadAsync(await _app.As(keyOfB["key"]!.GetValue<string>()).GetAsync($"/api/companies/{b.CompanyId}/services"), HttpStatusCode.OK);
    }
}
