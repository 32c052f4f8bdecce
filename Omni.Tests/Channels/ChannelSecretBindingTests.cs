using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Channels;

/// <summary>A stored secret is kept on an update only while the server or account it was given for stays the same.</summary>
public sealed class ChannelSecretBindingTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);
    private TestTenant _tenant = null!;

    public async ValueTask InitializeAsync() => _tenant = await _app.TenantAsync();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<string> CreateAsync(string type) => (await _app.ChannelAsync(_tenant, type, ChannelSamples.Valid[type]))["id"]!.GetValue<string>();

    private Task<HttpResponseMessage> PutAsync(string id, Dictionary<string, object?> settings) =>
        _app.As(_tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{_tenant.CompanyId}/channels/{id}", new { name = "Canal", serviceId = _tenant.ServiceId, settings });

    private async Task<string?> StoredSecretAsync(string id, string field)
    {
        var store = _app.Services.GetRequiredService<IChannelStore>();
        return store.RevealSecret((await store.GetAsync(_tenant.CompanyId, id))!, field);
    }

    public static TheoryData<string, string, object?, string> BoundFieldChanges => new()
    {
        { "email", "incoming", new { protocol = "imap", host = "imap.attacker.example", port = 993, ssl = true }, "password" },
        { "email", "incoming", new { protocol = "imap", host = "imap.acme.com.br", port = 143, ssl = true }, "password" },
        { "email", "incoming", new { protocol = "pop3", host = "imap.acme.com.br", port = 993, ssl = true }, "password" },
        { "email", "outgoing", new { host = "smtp.attacker.example", port = 465, ssl = true }, "password" },
        { "email", "address", "outra@acme.com.br", "password" },
        { "microsoft-email", "tenantId", "1d2e3f40-1111-4222-8333-944455556666", "clientSecret" },
        { "microsoft-email", "clientId", "aaaaaaaa-1111-4222-8333-944455556666", "clientSecret" },
        { "whatsapp", "phoneNumberId", "100000000001", "accessToken" },
        { "instagram", "pageId", "999", "accessToken" },
        { "mercadolivre", "sellerId", "987654321", "refreshToken" },
        { "mercadolivre", "clientId", "9988776655", "refreshToken" },
        { "mercadolivre", "clientId", "9988776655", "clientSecret" },
    };

    [Theory]
    [MemberData(nameof(BoundFieldChanges))]
    public async Task ChangingTheServerOrAccountWithoutGivingTheSecretAgainIsRejectedNamingTheSecret(string type, string field, object? value, string secret)
    {
        var id = await CreateAsync(type);
        var settings = ChannelSamples.With(type, field, value);
        settings.Remove(secret);

        var problem = await Arrange.ReadAsync(await PutAsync(id, settings), HttpStatusCode.BadRequest);

        var message = Assert.Single(problem["errors"]![$"settings.{secret}"]!.AsArray())!.GetValue<string>();
        Assert.Contains("given again", message);
        Assert.Contains($"settings.{field}", message);
        Assert.Equal(ChannelSamples.Valid[type][secret], await StoredSecretAsync(id, secret));
    }

    [Fact]
    public async Task ANewHostWithItsPasswordIsSaved()
    {
        var id = await CreateAsync("email");
        var settings = ChannelSamples.With("email", "incoming", new { protocol = "imap", host = "imap2.acme.com.br", port = 993, ssl = true });
        settings["password"] = "new-Pa55word";

        var updated = await Arrange.ReadAsync(await PutAsync(id, settings), HttpStatusCode.OK);

        Assert.Equal("imap2.acme.com.br", updated["settings"]!["incoming"]!["host"]!.GetValue<string>());
        Assert.Equal("new-Pa55word", await StoredSecretAsync(id, "password"));
    }

    [Fact]
    public async Task TheSameServerWithoutThePasswordKeepsIt()
    {
        var id = await CreateAsync("email");
        var settings = ChannelSamples.Without("email", "password");
        settings["displayName"] = "Atendimento";
        settings["pollSeconds"] = 120;

        var updated = await Arrange.ReadAsync(await PutAsync(id, settings), HttpStatusCode.OK);

        Assert.True(updated["settings"]!["passwordSet"]!.GetValue<bool>());
        Assert.Equal(ChannelSamples.Valid["email"]["password"], await StoredSecretAsync(id, "password"));
    }

    [Fact]
    public async Task AStoreUpdateOverAChangeMadeSinceTheReadThrowsAStorageConflict()
    {
        var id = await CreateAsync("webchat");
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var read = (await store.GetAsync(_tenant.CompanyId, id))!;
        await store.UpdateAsync(read with { Name = "First" }, new Dictionary<string, string>());

        await Assert.ThrowsAsync<Omni.Storage.StorageConflictException>(() => store.UpdateAsync(read with { Name = "Second" }, new Dictionary<string, string>()));
        Assert.Equal("First", (await store.GetAsync(_tenant.CompanyId, id))!.Name);
    }
}
