using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Tenancy;

public sealed class CompanyTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AdminCreatesACompanyWithTheDefaultTimeZone()
    {
        var created = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync("/api/companies", new { name = "Acme" }), HttpStatusCode.Created);

        Assert.Equal("Acme", created["name"]!.GetValue<string>());
        Assert.Equal("America/Sao_Paulo", created["timeZone"]!.GetValue<string>());
        Assert.StartsWith("cmp_", created["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task CompanyIsReadableByTheAdminAndByItsOwnManagementKey()
    {
        var tenant = await _app.TenantAsync("Beta");

        var byAdmin = await Arrange.ReadAsync(await _app.Admin().GetAsync($"/api/companies/{tenant.CompanyId}"), HttpStatusCode.OK);
        var byKey = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}"), HttpStatusCode.OK);

        Assert.Equal("Beta", byAdmin["name"]!.GetValue<string>());
        Assert.Equal(tenant.CompanyId, byKey["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task CreatingACompanyWithoutANameOrWithAnUnknownTimeZoneNamesBothFields()
    {
        var response = await _app.Admin().PostAsJsonAsync("/api/companies", new { name = " ", timeZone = "Mars/Olympus" });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem["errors"]!["name"] is not null);
        Assert.True(problem["errors"]!["timeZone"] is not null);
    }

    [Fact]
    public async Task CreatingACompanyWithoutACredentialIsUnauthorized()
    {
        var response = await _app.Anonymous().PostAsJsonAsync("/api/companies", new { name = "Acme" });

        await Arrange.ReadAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AWrongAdminTokenIsUnauthorized()
    {
        var response = await _app.As(_app.AdminToken + "x").PostAsJsonAsync("/api/companies", new { name = "Acme" });

        await Arrange.ReadAsync(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task AManagementKeyCannotCreateCompaniesOrKeys()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);

        await Arrange.ReadAsync(await client.PostAsJsonAsync("/api/companies", new { name = "Other" }), HttpStatusCode.Forbidden);
        await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/management-keys", new { name = "x", scopes = new[] { "channels:read" } }), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task AnUnknownCompanyIsNotFoundEvenForTheAdmin()
    {
        var response = await _app.Admin().GetAsync("/api/companies/cmp_doesnotexist");

        await Arrange.ReadAsync(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ServicesAreCreatedAndListedWithTheirScopes()
    {
        var tenant = await _app.TenantAsync();
        var readOnly = await _app.ManagementKeyAsync(tenant.CompanyId, "channels:read");

        await Arrange.ReadAsync(await _app.As(readOnly).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/services", new { name = "Vendas" }), HttpStatusCode.Forbidden);
        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/services", new { name = "Vendas" }), HttpStatusCode.Created);
        var list = await Arrange.ReadAsync(await _app.As(readOnly).GetAsync($"/api/companies/{tenant.CompanyId}/services"), HttpStatusCode.OK);

        Assert.Equal(["Suporte", "Vendas"], list["items"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task AServiceNeedsAName()
    {
        var tenant = await _app.TenantAsync();

        var problem = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/services", new { }), HttpStatusCode.BadRequest);

        Assert.NotNull(problem["errors"]!["name"]);
    }
}
