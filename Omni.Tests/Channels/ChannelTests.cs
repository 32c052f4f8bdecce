using System.Net;
using System.Net.Http.Json;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Channels;

public sealed class ChannelTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    public static TheoryData<string> Types => new(ChannelSamples.Valid.Keys);

    [Theory]
    [MemberData(nameof(Types))]
    public async Task EveryChannelTypeIsCreatedAndReadBackWithoutItsSecrets(string type)
    {
        var tenant = await _app.TenantAsync();

        var created = await _app.ChannelAsync(tenant, type, ChannelSamples.Valid[type]);
        var id = created["id"]!.GetValue<string>();
        var read = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{id}"), HttpStatusCode.OK);
        var list = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels?type={type}"), HttpStatusCode.OK);

        Assert.Equal(type, read["type"]!.GetValue<string>());
        Assert.Equal(tenant.CompanyId, read["companyId"]!.GetValue<string>());
        Assert.Equal(tenant.ServiceId, read["serviceId"]!.GetValue<string>());
        Assert.Equal(id, Assert.Single(list["items"]!.AsArray())!["id"]!.GetValue<string>());
        foreach (var field in ChannelSamples.SecretFields[type])
        {
            Assert.Null(read["settings"]![field]);
            Assert.True(read["settings"]![field + "Set"]!.GetValue<bool>());
        }

        foreach (var secret in ChannelSamples.SecretValues)
        {
            Assert.DoesNotContain(secret, created.ToJsonString());
            Assert.DoesNotContain(secret, read.ToJsonString());
            Assert.DoesNotContain(secret, list.ToJsonString());
        }
    }

    [Fact]
    public async Task AnOmniChannelShowsItsWebhookSecretOnlyInTheCreateResponse()
    {
        var tenant = await _app.TenantAsync();

        var created = await _app.ChannelAsync(tenant, "omni", ChannelSamples.Valid["omni"]);
        var read = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{created["id"]}"), HttpStatusCode.OK);

        var secret = created["webhookSecret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.Null(read["webhookSecret"]);
        Assert.True(read["settings"]!["webhookSecretSet"]!.GetValue<bool>());
        Assert.DoesNotContain(secret, read.ToJsonString());
    }

    [Fact]
    public async Task SecretsAreEncryptedInTableStorage()
    {
        var tenant = await _app.TenantAsync();
        foreach (var (type, settings) in ChannelSamples.Valid)
        {
            await _app.ChannelAsync(tenant, type, settings);
        }

        var table = new TableClient(_app.StorageConnectionString, "Channels");
        var raw = new List<string>();
        var entities = 0;
        await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey == tenant.CompanyId))
        {
            entities++;
            raw.AddRange(entity.Select(p => p.Value).Select(v => v is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : v?.ToString() ?? ""));
        }

        Assert.Equal(ChannelSamples.Valid.Count, entities);
        Assert.Contains(raw, r => r.Contains("\"password\":\"v1.", StringComparison.Ordinal));
        foreach (var secret in ChannelSamples.SecretValues)
        {
            Assert.DoesNotContain(raw, r => r.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task UpdatingWithoutASecretKeepsTheStoredOne()
    {
        var tenant = await _app.TenantAsync();
        var created = await _app.ChannelAsync(tenant, "email", ChannelSamples.Valid["email"]);
        var id = created["id"]!.GetValue<string>();
        var settings = ChannelSamples.Without("email", "password");
        settings["displayName"] = "Atendimento";

        var updated = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{id}",
            new { name = "Renamed", serviceId = tenant.ServiceId, settings }), HttpStatusCode.OK);

        Assert.Equal("Renamed", updated["name"]!.GetValue<string>());
        Assert.Equal("Atendimento", updated["settings"]!["displayName"]!.GetValue<string>());
        Assert.True(updated["settings"]!["passwordSet"]!.GetValue<bool>());
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var channel = await store.GetAsync(tenant.CompanyId, id);
        Assert.Equal(ChannelSamples.Valid["email"]["password"], store.RevealSecret(channel!, "password"));
    }

    [Fact]
    public async Task UpdatingWithANewSecretReplacesIt()
    {
        var tenant = await _app.TenantAsync();
        var created = await _app.ChannelAsync(tenant, "mercadolivre", ChannelSamples.Valid["mercadolivre"]);
        var id = created["id"]!.GetValue<string>();

        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{id}",
            new { name = "ML", serviceId = tenant.ServiceId, settings = ChannelSamples.With("mercadolivre", "refreshToken", "TG-new-refresh-token") }), HttpStatusCode.OK);

        var store = _app.Services.GetRequiredService<IChannelStore>();
        Assert.Equal("TG-new-refresh-token", store.RevealSecret((await store.GetAsync(tenant.CompanyId, id))!, "refreshToken"));
    }

    [Fact]
    public async Task TheSignatureLosesScriptsAndEventHandlersButKeepsFormatting()
    {
        var tenant = await _app.TenantAsync();
        var created = await _app.ChannelAsync(tenant, "email", ChannelSamples.Valid["email"]);

        var response = await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{created["id"]}/signature/preview");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<b>Acme</b>", html);
        Assert.Contains("<i>Suporte</i>", html);
        Assert.Contains("text-align: center", html);
        Assert.Contains("https://acme.com.br/logo.png", html);
        Assert.DoesNotContain("script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("onerror", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("alert", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task WhatsAppChannelsNeedTheGeneralSettingsScope()
    {
        var tenant = await _app.TenantAsync();
        var withoutGeneral = await _app.ManagementKeyAsync(tenant.CompanyId, "channels:write", "channels:read");
        var body = new { type = "whatsapp", name = "WA", serviceId = tenant.ServiceId, settings = ChannelSamples.Valid["whatsapp"] };

        await Arrange.ReadAsync(await _app.As(withoutGeneral).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels", body), HttpStatusCode.Forbidden);
        var created = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels", body), HttpStatusCode.Created);
        await Arrange.ReadAsync(await _app.As(withoutGeneral).PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{created["id"]}",
            new { name = "WA2", serviceId = tenant.ServiceId, settings = ChannelSamples.Valid["whatsapp"] }), HttpStatusCode.Forbidden);

        Assert.Equal("+5511987654321", created["settings"]!["number"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADeletedChannelIsGoneAndItsApiKeysStopWorking()
    {
        var channel = await _app.OmniChannelAsync();
        var t = channel.Tenant;
        var keys = $"/api/companies/{t.CompanyId}/channels/{channel.ChannelId}/api-keys";
        Assert.NotNull(await _app.Services.GetRequiredService<Omni.Credentials.ICredentialStore>().ResolveAsync(channel.ApiKey));

        var delete = await _app.As(t.ManagementKey).DeleteAsync($"/api/companies/{t.CompanyId}/channels/{channel.ChannelId}");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await Arrange.ReadAsync(await _app.As(t.ManagementKey).GetAsync($"/api/companies/{t.CompanyId}/channels/{channel.ChannelId}"), HttpStatusCode.NotFound);
        await Arrange.ReadAsync(await _app.As(t.ManagementKey).GetAsync(keys), HttpStatusCode.NotFound);
        var list = await Arrange.ReadAsync(await _app.As(t.ManagementKey).GetAsync($"/api/companies/{t.CompanyId}/channels"), HttpStatusCode.OK);
        Assert.Empty(list["items"]!.AsArray());
        Assert.Null(await _app.Services.GetRequiredService<Omni.Credentials.ICredentialStore>().ResolveAsync(channel.ApiKey));
    }

    [Fact]
    public async Task ChannelApiKeysAreListedByPrefixAndRevokedAtOnce()
    {
        var channel = await _app.OmniChannelAsync();
        var t = channel.Tenant;
        var keys = $"/api/companies/{t.CompanyId}/channels/{channel.ChannelId}/api-keys";

        var list = await Arrange.ReadAsync(await _app.As(t.ManagementKey).GetAsync(keys), HttpStatusCode.OK);
        var item = Assert.Single(list["items"]!.AsArray())!;
        Assert.StartsWith(item["prefix"]!.GetValue<string>(), channel.ApiKey);
        Assert.DoesNotContain(channel.ApiKey, list.ToJsonString());
        Assert.StartsWith("omni_ck_", channel.ApiKey);

        var revoke = await _app.As(t.ManagementKey).DeleteAsync($"{keys}/{item["id"]}");

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Null(await _app.Services.GetRequiredService<Omni.Credentials.ICredentialStore>().ResolveAsync(channel.ApiKey));
        Assert.Empty((await Arrange.ReadAsync(await _app.As(t.ManagementKey).GetAsync(keys), HttpStatusCode.OK))["items"]!.AsArray());
    }

    [Fact]
    public async Task ApiKeysAreOnlyForOmniChannels()
    {
        var tenant = await _app.TenantAsync();
        var webchat = await _app.ChannelAsync(tenant, "webchat", ChannelSamples.Valid["webchat"]);

        var response = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{webchat["id"]}/api-keys", new { name = "x" });

        await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ChannelKeysCannotManageChannels()
    {
        var channel = await _app.OmniChannelAsync();

        var response = await _app.As(channel.ApiKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels");

        await Arrange.ReadAsync(response, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task RotatingTheWebhookSecretKeepsThePreviousOneForADay()
    {
        var channel = await _app.OmniChannelAsync();
        var t = channel.Tenant;

        var rotated = await Arrange.ReadAsync(await _app.As(t.ManagementKey).PostAsync($"/api/companies/{t.CompanyId}/channels/{channel.ChannelId}/webhook-secret/rotate", null), HttpStatusCode.OK);

        var secret = rotated["webhookSecret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret);
        Assert.NotEqual(channel.WebhookSecret, secret);
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var stored = (await store.GetAsync(t.CompanyId, channel.ChannelId))!;
        var signing = Omni.Webhooks.WebhookSecrets.SigningSecrets(store, stored, DateTimeOffset.UtcNow);
        Assert.Equal([secret, channel.WebhookSecret], signing);
        Assert.Equal([secret], Omni.Webhooks.WebhookSecrets.SigningSecrets(store, stored, DateTimeOffset.UtcNow.AddHours(25)));
    }

    [Fact]
    public async Task ConfigurationChangesAreAuditedWithoutSecrets()
    {
        var tenant = await _app.TenantAsync();
        var created = await _app.ChannelAsync(tenant, "email", ChannelSamples.Valid["email"]);
        await _app.As(tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{created["id"]}",
            new { name = "Mail", serviceId = tenant.ServiceId, settings = ChannelSamples.With("email", "password", "a-new-Password-1") });

        var events = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/audit/events"), HttpStatusCode.OK);

        var items = events["items"]!.AsArray().Select(e => e!.AsObject()).ToList();
        var update = items.First(e => e["action"]!.GetValue<string>() == "channel.updated");
        Assert.Contains("settings.password", update["changedFields"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Contains("management-key:", update["actor"]!.GetValue<string>());
        Assert.Contains(items, e => e["action"]!.GetValue<string>() == "channel.created");
        Assert.Contains(items, e => e["action"]!.GetValue<string>() == "service.created" );
        Assert.DoesNotContain("a-new-Password-1", events.ToJsonString());
        Assert.DoesNotContain((string)ChannelSamples.Valid["email"]["password"]!, events.ToJsonString());
    }

    [Fact]
    public async Task TestingAChannelTypeWithoutATesterSaysSo()
    {
        var tenant = await _app.TenantAsync();
        var webchat = await _app.ChannelAsync(tenant, "webchat", ChannelSamples.Valid["webchat"]);

        var result = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/channels/{webchat["id"]}/test", null), HttpStatusCode.OK);

        Assert.False(result["ok"]!.GetValue<bool>());
        Assert.Contains("webchat", result["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task TestingAChannelWhoseSecretWasStoredUnderAnotherKeySaysToSaveItAgain()
    {
        var tenant = await _app.TenantAsync();
        var email = await _app.ChannelAsync(tenant, "email", ChannelSamples.Valid["email"]);
        // Another app on the same storage with its own Omni__SecretsKey: as after a change of the key.
        await using var rekeyed = new OmniApp(azurite);

        var result = await Arrange.ReadAsync(await rekeyed.Admin().PostAsync($"/api/companies/{tenant.CompanyId}/channels/{email["id"]}/test", null), HttpStatusCode.OK);

        Assert.False(result["ok"]!.GetValue<bool>());
        Assert.Contains("cannot be decrypted", result["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task NoSecretEverReachesALogLine()
    {
        var tenant = await _app.TenantAsync();
        foreach (var (type, settings) in ChannelSamples.Valid)
        {
            var created = await _app.ChannelAsync(tenant, type, settings);
            await _app.As(tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{created["id"]}",
                new { name = "again", serviceId = tenant.ServiceId, settings });
        }

        var channel = await _app.OmniChannelAsync(tenant);
        await _app.As(channel.ApiKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels");
        await _app.As("omni_mk_" + new string('x', 43)).GetAsync($"/api/companies/{tenant.CompanyId}/channels");

        var logs = string.Join('\n', _app.Logs.Lines);
        Assert.NotEmpty(_app.Logs.Lines);
        foreach (var secret in ChannelSamples.SecretValues.Concat([tenant.ManagementKey, channel.ApiKey, channel.WebhookSecret, _app.AdminToken]))
        {
            Assert.DoesNotContain(secret, logs);
        }
    }
}
