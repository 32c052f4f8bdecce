using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Quotas;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Tenancy;

/// <summary>
/// Per-company quotas on channels, channel API keys and management keys, over the public API: a create over the
/// limit is a 409 problem naming the quota, concurrent creates never pass it, a delete gives one back, and one
/// company's use never counts against another's.
/// </summary>
public sealed class QuotaTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int Channels = 4;
    private const int ApiKeys = 2;
    private const int ManagementKeys = 3;

    private readonly OmniApp _app = new(azurite, new Dictionary<string, string?>
    {
        ["Omni:Quotas:MaxChannelsPerCompany"] = Channels.ToString(),
        ["Omni:Quotas:MaxApiKeysPerChannel"] = ApiKeys.ToString(),
        ["Omni:Quotas:MaxManagementKeysPerCompany"] = ManagementKeys.ToString(),
    });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private Task<HttpResponseMessage> CreateOmniChannelAsync(TestTenant tenant) =>
        _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels",
            new { type = "omni", name = "ERP", serviceId = tenant.ServiceId, settings = new { webhookUrl = "https://erp.example.com/hooks" } });

    private static async Task AssertOverQuotaAsync(HttpResponseMessage response, string quota, int limit)
    {
        var problem = await Arrange.ReadAsync(response, HttpStatusCode.Conflict);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(quota, problem["quota"]!.GetValue<string>());
        Assert.Equal(limit, problem["limit"]!.GetValue<int>());
        Assert.Contains(quota, problem["detail"]!.GetValue<string>());
        Assert.Contains(limit.ToString(), problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AChannelOverTheCompanysQuotaIsAConflictNamingTheQuotaAndADeleteMakesRoomAgain()
    {
        var tenant = await _app.TenantAsync();
        var ids = new List<string>();
        for (var i = 0; i < Channels; i++)
        {
            ids.Add((await Arrange.ReadAsync(await CreateOmniChannelAsync(tenant), HttpStatusCode.Created))["id"]!.GetValue<string>());
        }

        await AssertOverQuotaAsync(await CreateOmniChannelAsync(tenant), "MaxChannelsPerCompany", Channels);

        Assert.Equal(HttpStatusCode.NoContent, (await _app.As(tenant.ManagementKey).DeleteAsync($"/api/companies/{tenant.CompanyId}/channels/{ids[0]}")).StatusCode);
        await Arrange.ReadAsync(await CreateOmniChannelAsync(tenant), HttpStatusCode.Created);
        await AssertOverQuotaAsync(await CreateOmniChannelAsync(tenant), "MaxChannelsPerCompany", Channels);
    }

    [Fact]
    public async Task ConcurrentCreatesNeverTakeACompanyPastItsQuotaAndNoneIsAServerError()
    {
        var tenant = await _app.TenantAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => CreateOmniChannelAsync(tenant)));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)r.StatusCode}"));
        Assert.Equal(Channels, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        var listed = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels"), HttpStatusCode.OK);
        Assert.Equal(Channels, listed["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task OneCompanyAtItsQuotaDoesNotCountAgainstAnother()
    {
        var full = await _app.TenantAsync("Cheia");
        var other = await _app.TenantAsync("Outra");
        for (var i = 0; i < Channels; i++)
        {
            await Arrange.ReadAsync(await CreateOmniChannelAsync(full), HttpStatusCode.Created);
        }

        await AssertOverQuotaAsync(await CreateOmniChannelAsync(full), "MaxChannelsPerCompany", Channels);
        await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{full.CompanyId}/management-keys", new { name = "a", scopes = new[] { "channels:read" } }), HttpStatusCode.Created);
        await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{full.CompanyId}/management-keys", new { name = "b", scopes = new[] { "channels:read" } }), HttpStatusCode.Created);

        for (var i = 0; i < Channels; i++)
        {
            await Arrange.ReadAsync(await CreateOmniChannelAsync(other), HttpStatusCode.Created);
        }

        await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync($"/api/companies/{other.CompanyId}/management-keys", new { name = "a", scopes = new[] { "channels:read" } }), HttpStatusCode.Created);
    }

    [Fact]
    public async Task AnApiKeyOverTheChannelsQuotaIsAConflictWhileAnotherChannelStillGetsKeys()
    {
        var tenant = await _app.TenantAsync();
        var keys = _app.As(tenant.ManagementKey);
        var first = (await Arrange.ReadAsync(await CreateOmniChannelAsync(tenant), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var second = (await Arrange.ReadAsync(await CreateOmniChannelAsync(tenant), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var url = $"/api/companies/{tenant.CompanyId}/channels/{first}/api-keys";
        var issued = new List<string>();
        for (var i = 0; i < ApiKeys; i++)
        {
            issued.Add((await Arrange.ReadAsync(await keys.PostAsJsonAsync(url, new { name = $"k{i}" }), HttpStatusCode.Created))["id"]!.GetValue<string>());
        }

        await AssertOverQuotaAsync(await keys.PostAsJsonAsync(url, new { name = "one too many" }), "MaxApiKeysPerChannel", ApiKeys);
        await Arrange.ReadAsync(await keys.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{second}/api-keys", new { name = "other" }), HttpStatusCode.Created);

        Assert.Equal(HttpStatusCode.NoContent, (await keys.DeleteAsync($"{url}/{issued[0]}")).StatusCode);
        await Arrange.ReadAsync(await keys.PostAsJsonAsync(url, new { name = "again" }), HttpStatusCode.Created);
    }

    [Fact]
    public async Task AManagementKeyOverTheCompanysQuotaIsAConflictAndARevokeMakesRoomAgain()
    {
        // The tenant's own key is the first of its quota.
        var tenant = await _app.TenantAsync();
        var url = $"/api/companies/{tenant.CompanyId}/management-keys";
        string? last = null;
        for (var i = 1; i < ManagementKeys; i++)
        {
            last = (await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync(url, new { name = $"k{i}", scopes = new[] { "audit:read" } }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        }

        await AssertOverQuotaAsync(await _app.Admin().PostAsJsonAsync(url, new { name = "one too many", scopes = new[] { "audit:read" } }), "MaxManagementKeysPerCompany", ManagementKeys);

        Assert.Equal(HttpStatusCode.NoContent, (await _app.Admin().DeleteAsync($"{url}/{last}")).StatusCode);
        await Arrange.ReadAsync(await _app.Admin().PostAsJsonAsync(url, new { name = "again", scopes = new[] { "audit:read" } }), HttpStatusCode.Created);
    }

    [Fact]
    public async Task ACompanyWithChannelsFromBeforeQuotasIsCountedFromItsRealChannels()
    {
        var tenant = await _app.TenantAsync();
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < Channels - 1; i++)
        {
            // Written straight to the store, as channels made before quotas existed: no counter row yet.
            await store.CreateAsync(new Channel(Ids.New("chn"), tenant.CompanyId, "omni", "old", tenant.ServiceId, new JsonObject { ["webhookUrl"] = "https://erp.example.com/hooks" },
                new Dictionary<string, string>(), now, now), new Dictionary<string, string>());
        }

        await Arrange.ReadAsync(await CreateOmniChannelAsync(tenant), HttpStatusCode.Created);
        await AssertOverQuotaAsync(await CreateOmniChannelAsync(tenant), "MaxChannelsPerCompany", Channels);
    }

    [Fact]
    public void ACompanysOwnLimitsReplaceTheAppWideOnesWhereSet()
    {
        var options = Bind(new Dictionary<string, string?>
        {
            ["Omni:Quotas:MaxChannelsPerCompany"] = "10",
            ["Omni:Quotas:Companies:cmp_big:MaxChannelsPerCompany"] = "1000",
            ["Omni:Quotas:Companies:cmp_big:MaxConcurrentPollsPerCompany"] = "16",
        }).GetRequiredService<IOptions<QuotaOptions>>().Value;

        Assert.Equal(1000, options.LimitOf("cmp_big", Quota.Channels));
        Assert.Equal(16, options.LimitOf("cmp_big", Quota.ConcurrentPolls));
        Assert.Equal(20, options.LimitOf("cmp_big", Quota.ApiKeys));
        Assert.Equal(10, options.LimitOf("cmp_small", Quota.Channels));
        Assert.Equal(4, options.LimitOf("cmp_small", Quota.ConcurrentPolls));
        Assert.Equal(50, options.LimitOf("cmp_small", Quota.ManagementKeys));
    }

    [Theory]
    [InlineData("Omni:Quotas:MaxChannelsPerCompany", "0")]
    [InlineData("Omni:Quotas:MaxConcurrentPollsPerCompany", "-1")]
    [InlineData("Omni:Quotas:Companies:cmp_x:MaxApiKeysPerChannel", "0")]
    public async Task TheAppDoesNotStartWithAQuotaBelowOne(string key, string value)
    {
        await using var app = new OmniApp(azurite, new Dictionary<string, string?> { [key] = value });
        Assert.ThrowsAny<Exception>(() => app.Anonymous());

        var error = Assert.Throws<OptionsValidationException>(() => Bind(new Dictionary<string, string?> { [key] = value }).GetRequiredService<IOptions<QuotaOptions>>().Value);
        Assert.Contains("Omni__Quotas__", error.Message);
    }

    private static ServiceProvider Bind(Dictionary<string, string?> settings) => new ServiceCollection()
        .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
        .AddLogging()
        .AddOmniQuotas()
        .BuildServiceProvider();
}
