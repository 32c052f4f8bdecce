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
}
