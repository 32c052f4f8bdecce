using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Channels;

/// <summary>
/// The app's real channel store, with another writer slipped in before the next update: the update then meets a
/// real ETag mismatch in Azurite, as when two requests edit one channel at once.
/// </summary>
public sealed class RacingChannelStore(IChannelStore inner) : IChannelStore
{
    public int RacesLeft { get; set; }

    public static void Install(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IChannelStore));
        services.Remove(registered);
        services.AddSingleton<IChannelStore>(sp => new RacingChannelStore((IChannelStore)ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)));
    }

    public async Task<Channel> UpdateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default)
    {
        if (RacesLeft > 0)
        {
            RacesLeft--;
            await inner.UpdateAsync(channel with { Name = "Someone else's edit", DeletedAt = null }, new Dictionary<string, string>(), cancellationToken);
        }

        return await inner.UpdateAsync(channel, secrets, cancellationToken);
    }

    public Task<Channel> CreateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default) =>
        inner.CreateAsync(channel, secrets, cancellationToken);

    public Task<Channel?> GetAsync(string companyId, string channelId, bool includeDeleted = false, CancellationToken cancellationToken = default) =>
        inner.GetAsync(companyId, channelId, includeDeleted, cancellationToken);

    public Task<IReadOnlyList<Channel>> ListAsync(string companyId, string? type = null, CancellationToken cancellationToken = default) =>
        inner.ListAsync(companyId, type, cancellationToken);

    public IAsyncEnumerable<Channel> ListAllAsync(IReadOnlyCollection<string> types, CancellationToken cancellationToken = default) =>
        inner.ListAllAsync(types, cancellationToken);

    public Task<string?> FindCompanyAsync(string channelId, CancellationToken cancellationToken = default) =>
        inner.FindCompanyAsync(channelId, cancellationToken);

    public string? RevealSecret(Channel channel, string field) => inner.RevealSecret(channel, field);
}

/// <summary>Two writers on one channel: an update that lost the race says so (409); a delete reads again and wins.</summary>
public sealed class ChannelRaceTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite, configureServices: RacingChannelStore.Install);
    private TestTenant _tenant = null!;

    public async ValueTask InitializeAsync() => _tenant = await _app.TenantAsync();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private RacingChannelStore Store => (RacingChannelStore)_app.Services.GetRequiredService<IChannelStore>();

    [Fact]
    public async Task AnUpdateThatLostARaceIsAConflictAndKeepsTheOtherWritersChange()
    {
        var id = (await _app.ChannelAsync(_tenant, "webchat", ChannelSamples.Valid["webchat"]))["id"]!.GetValue<string>();
        Store.RacesLeft = 1;

        var problem = await Arrange.ReadAsync(await _app.As(_tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels/{id}",
            new { name = "Mine", serviceId = _tenant.ServiceId, settings = ChannelSamples.Valid["webchat"] }), HttpStatusCode.Conflict);

        Assert.Equal("Conflict", problem["title"]!.GetValue<string>());
        Assert.Contains("changed by someone else", problem["detail"]!.GetValue<string>());
        Assert.Equal("Someone else's edit", (await Store.GetAsync(_tenant.CompanyId, id))!.Name);
    }

    [Fact]
    public async Task ADeleteThatMeetsAConcurrentEditReadsAgainAndDeletes()
    {
        var id = (await _app.ChannelAsync(_tenant, "webchat", ChannelSamples.Valid["webchat"]))["id"]!.GetValue<string>();
        Store.RacesLeft = 1;

        var response = await _app.As(_tenant.ManagementKey).DeleteAsync($"/api/companies/{_tenant.CompanyId}/channels/{id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Null(await Store.GetAsync(_tenant.CompanyId, id));
    }
}
