using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Voice;

/// <summary>The numbers inventory and companies taking and releasing numbers (§8), on real Azurite.</summary>
public sealed class NumberTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task TheAdminAddsNumbersOfAnAreaAndNumbersAlreadyThereAreSkipped()
    {
        var numbers = VoiceArrange.SaoPauloNumbers(3);

        var first = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync("/api/numbers/inventory", new { country = "BR", areaCode = "11", numbers }), HttpStatusCode.Created);
        var again = await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync("/api/numbers/inventory",
            new { country = "br", areaCode = "11", numbers = new[] { numbers[0], VoiceArrange.SaoPauloNumbers(1)[0] } }), HttpStatusCode.Created);

        Assert.Equal(3, first["added"]!.GetValue<int>());
        Assert.Equal(0, first["skipped"]!.GetValue<int>());
        Assert.Equal(1, again["added"]!.GetValue<int>());
        Assert.Equal(1, again["skipped"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("5511912345678", "numbers[0]")] // no +
    [InlineData("+5521912345678", "numbers[0]")] // Rio de Janeiro, not area 11
    [InlineData("+14155550123", "numbers[0]")] // another country
    [InlineData("+5511", "numbers[0]")] // too short to be a number
    [InlineData("+55 11 91234-5678", "numbers[0]")] // not E.164
    public async Task AnInventoryNumberThatIsNotAnE164NumberOfTheAreaIsRefusedByIndex(string number, string field)
    {
        var response = await _app.Admin().PostAsJsonAsync("/api/numbers/inventory", new { country = "BR", areaCode = "11", numbers = new[] { number } });

        await AssertProblemAsync(response, field);
    }

    [Theory]
    [InlineData("XX", "11", "country")]
    [InlineData("BR", "1a", "areaCode")]
    [InlineData("BR", "", "areaCode")]
    public async Task AnInventoryWithAnUnknownCountryOrAreaCodeIsRefused(string country, string areaCode, string field)
    {
        var response = await _app.Admin().PostAsJsonAsync("/api/numbers/inventory", new { country, areaCode, numbers = VoiceArrange.SaoPauloNumbers(1) });

        await AssertProblemAsync(response, field);
    }

    [Fact]
    public async Task AnEmptyInventoryRequestIsRefused()
    {
        await AssertProblemAsync(await _app.Admin().PostAsJsonAsync("/api/numbers/inventory", new { country = "BR", areaCode = "11", numbers = Array.Empty<string>() }), "numbers");
    }

    [Fact]
    public async Task OnlyThePlatformAdminAddsToTheInventory()
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.As(tenant.ManagementKey).PostAsJsonAsync("/api/numbers/inventory", new { country = "BR", areaCode = "11", numbers = VoiceArrange.SaoPauloNumbers(1) });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task TheAreaPickerListsAreaCodesWithTheirFreeNumbersAndTheAvailableListShowsOnlyFreeOnes()
    {
        var tenant = await _app.TenantAsync();
        var toll = "+55800" + Random.Shared.Next(1_000_000, 9_999_999);
        await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync("/api/numbers/inventory", new { country = "BR", areaCode = "800", numbers = new[] { toll } }), HttpStatusCode.Created);
        var numbers = await _app.StockAsync(2);
        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/numbers", new { number = numbers[0], inbound = true }), HttpStatusCode.Created);

        var areas = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync("/api/numbers/areas?country=BR"), HttpStatusCode.OK);
        var available = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/numbers/available?country=BR&areaCode=11"), HttpStatusCode.OK);
        var tollFree = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/numbers/available?country=BR&areaCode=800"), HttpStatusCode.OK);

        var codes = areas["items"]!.AsArray().Select(a => a!["areaCode"]!.GetValue<string>()).ToList();
        Assert.Contains("11", codes);
        Assert.Contains("800", codes);
        var listed = available["items"]!.AsArray().Select(n => n!["number"]!.GetValue<string>()).ToList();
        Assert.DoesNotContain(numbers[0], listed);
        Assert.All(available["items"]!.AsArray(), n => Assert.Equal("11", n!["areaCode"]!.GetValue<string>()));
        Assert.Contains(toll, tollFree["items"]!.AsArray().Select(n => n!["number"]!.GetValue<string>()));
    }

    [Theory]
    [InlineData("/api/numbers/areas", "country")]
    [InlineData("/api/numbers/areas?country=Brasil", "country")]
    [InlineData("/api/companies/{companyId}/numbers/available", "country")]
    [InlineData("/api/companies/{companyId}/numbers/available?country=BR&areaCode=x", "areaCode")]
    public async Task ListingNumbersWithoutAKnownCountryIsRefused(string url, string field)
    {
        var tenant = await _app.TenantAsync();

        await AssertProblemAsync(await _app.As(tenant.ManagementKey).GetAsync(url.Replace("{companyId}", tenant.CompanyId, StringComparison.Ordinal)), field);
    }

    [Fact]
    public async Task ACompanyTakesANumberListsItAndReleasesItBackToTheInventory()
    {
        var tenant = await _app.TenantAsync();
        var number = (await _app.StockAsync())[0];
        var client = _app.As(tenant.ManagementKey);

        var taken = await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/numbers", new { number, inbound = true, outbound = false }), HttpStatusCode.Created);
        var listed = await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/numbers"), HttpStatusCode.OK);
        var release = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/{Uri.EscapeDataString(number)}");
        var after = await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/numbers"), HttpStatusCode.OK);
        var other = await _app.TenantAsync("Other");
        var retaken = await _app.As(other.ManagementKey).PostAsJsonAsync($"/api/companies/{other.CompanyId}/numbers", new { number, outbound = true });

        Assert.Equal("BR", taken["country"]!.GetValue<string>());
        Assert.Equal("11", taken["areaCode"]!.GetValue<string>());
        Assert.True(taken["inbound"]!.GetValue<bool>());
        Assert.False(taken["outbound"]!.GetValue<bool>());
        Assert.Equal(number, Assert.Single(listed["items"]!.AsArray())!["number"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NoContent, release.StatusCode);
        Assert.Empty(after["items"]!.AsArray());
        Assert.Equal(HttpStatusCode.Created, retaken.StatusCode);
    }

    [Fact]
    public async Task ANumberHeldByOneCompanyIsAConflictForAnotherAndForItself()
    {
        var holder = await _app.TenantAsync();
        var other = await _app.TenantAsync("Other");
        var number = await _app.InboundNumberAsync(holder);

        var byOther = await _app.As(other.ManagementKey).PostAsJsonAsync($"/api/companies/{other.CompanyId}/numbers", new { number, inbound = true });
        var again = await _app.As(holder.ManagementKey).PostAsJsonAsync($"/api/companies/{holder.CompanyId}/numbers", new { number, inbound = true });
        var releaseByOther = await _app.As(other.ManagementKey).DeleteAsync($"/api/companies/{other.CompanyId}/numbers/{number}");

        Assert.Equal(HttpStatusCode.Conflict, byOther.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, releaseByOther.StatusCode);
    }

    [Fact]
    public async Task OfManyCompaniesTakingOneNumberAtOnceExactlyOneGetsIt()
    {
        var tenants = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => _app.TenantAsync($"Racer {i}")));
        var number = (await _app.StockAsync())[0];

        var responses = await Task.WhenAll(tenants.Select(t =>
            _app.As(t.ManagementKey).PostAsJsonAsync($"/api/companies/{t.CompanyId}/numbers", new { number, inbound = true })));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(tenants.Length - 1, responses.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        var winner = tenants[Array.FindIndex(responses, r => r.StatusCode == HttpStatusCode.Created)];
        var holders = await Task.WhenAll(tenants.Select(async t =>
            (await Arrange.ReadAsync(await _app.As(t.ManagementKey).GetAsync($"/api/companies/{t.CompanyId}/numbers"), HttpStatusCode.OK))["items"]!.AsArray().Count));
        Assert.Equal(1, holders.Sum());
        Assert.Equal(1, holders[Array.IndexOf(tenants, winner)]);
    }

    [Theory]
    [InlineData("{\"number\":\"+5521912345678\",\"inbound\":true}", "number")] // not in the inventory
    [InlineData("{\"number\":\"11912345678\",\"inbound\":true}", "number")]
    [InlineData("{\"inbound\":true}", "number")]
    public async Task TakingANumberThatIsNotAnInventoryE164NumberIsRefused(string body, string field)
    {
        var tenant = await _app.TenantAsync();

        await AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/numbers",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json")), field);
    }

    [Fact]
    public async Task TakingANumberForNeitherInboundNorOutboundIsRefused()
    {
        var tenant = await _app.TenantAsync();
        var number = (await _app.StockAsync())[0];

        await AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/numbers", new { number, inbound = false, outbound = false }), "inbound");
    }

    [Fact]
    public async Task ReleasingANumberTheCompanyDoesNotHoldIsNotFound()
    {
        var tenant = await _app.TenantAsync();
        var free = (await _app.StockAsync())[0];

        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(tenant.ManagementKey).DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/{free}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(tenant.ManagementKey).DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/not-a-number")).StatusCode);
    }

    [Fact]
    public async Task VoiceRoutesNeedTheVoiceWriteScope()
    {
        var tenant = await _app.TenantAsync();
        var weak = await _app.ManagementKeyAsync(tenant.CompanyId, "channels:read", "channels:write");

        foreach (var url in new[] { "/api/numbers/areas?country=BR", $"/api/companies/{tenant.CompanyId}/numbers", $"/api/companies/{tenant.CompanyId}/ivrs", $"/api/companies/{tenant.CompanyId}/calls", $"/api/companies/{tenant.CompanyId}/audio/aud_x" })
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await _app.As(weak).GetAsync(url)).StatusCode);
        }
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"Expected 400 naming {field}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonNode.Parse(body)!["errors"]!.AsObject();
        Assert.True(errors.ContainsKey(field), $"Expected an error on {field}: {body}");
    }
}
