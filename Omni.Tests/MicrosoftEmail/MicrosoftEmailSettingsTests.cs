using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Omni.MicrosoftEmail;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

public sealed class MicrosoftEmailSettingsTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft) : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = microsoft.CreateApp(azurite);
    private readonly List<string> _responses = [];

    private FakeMicrosoftCloud Cloud => microsoft.Cloud;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task TestingGoodSettingsGetsATokenReadsTheInboxAndSaysConfiguracoesOk()
    {
        var channel = await _app.GraphChannelAsync(Cloud);

        var result = await TestAsync(channel);

        Assert.True(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        Assert.Equal("Configurações OK", result["message"]!.GetValue<string>());
        Assert.Equal([MicrosoftEmailTester.TokenCheck, MicrosoftEmailTester.MailboxCheck], result["checks"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        var inbox = Assert.Single(Cloud.GraphRequests(channel.Mailbox));
        Assert.Equal(("GET", $"/v1.0/users/{channel.Mailbox.Id}/mailFolders/inbox", 200), (inbox.Method, inbox.Path, inbox.Status));
    }

    [Fact]
    public async Task TestingWithATenantEntraIdDoesNotKnowSaysTheTenantIsWrong()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await UpdateSettingsAsync(channel, tenantId: Guid.NewGuid().ToString());

        var error = FailedCheck(await TestAsync(channel), MicrosoftEmailTester.TokenCheck);

        Assert.Contains("AADSTS90002", error);
        Assert.Contains("tenantId", error);
    }

    [Fact]
    public async Task TestingWithAnUnknownClientIdSaysTheApplicationIdIsWrong()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await UpdateSettingsAsync(channel, clientId: Guid.NewGuid().ToString());

        var error = FailedCheck(await TestAsync(channel), MicrosoftEmailTester.TokenCheck);

        Assert.Contains("AADSTS700016", error);
        Assert.Contains("clientId", error);
    }

    [Fact]
    public async Task TestingWithAWrongSecretSaysTheSecretIsWrongWithoutEchoingIt()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        const string wrong = "wrong-secret-value-5a5a";
        await UpdateSettingsAsync(channel, clientSecret: wrong);

        var result = await TestAsync(channel);
        var error = FailedCheck(result, MicrosoftEmailTester.TokenCheck);

        Assert.Contains("AADSTS7000215", error);
        Assert.Contains("client secret", error);
        Assert.DoesNotContain(wrong, result.ToJsonString());
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains(wrong, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TestingAnAppWithoutMailPermissionsSaysWhichPermissionsToGrant()
    {
        var channel = await _app.GraphChannelAsync(Cloud, mailPermissionGranted: false);

        var result = await TestAsync(channel);
        var error = FailedCheck(result, MicrosoftEmailTester.MailboxCheck);

        Assert.True(result["checks"]![0]!["ok"]!.GetValue<bool>());
        Assert.Contains("403", error);
        Assert.Contains("Mail.ReadWrite", error);
    }

    [Fact]
    public async Task TestingAnUnknownMailboxSaysTheMailboxIdIsWrong()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await UpdateSettingsAsync(channel, mailboxId: "nobody@contoso.com");

        var error = FailedCheck(await TestAsync(channel), MicrosoftEmailTester.MailboxCheck);

        Assert.Contains("404", error);
        Assert.Contains("mailboxId", error);
    }

    [Fact]
    public async Task AnAppCannotReachAMailboxOfAnotherMicrosoftTenant()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var otherTenantsMailbox = Cloud.AddTenant().AddMailbox("ceo@fabrikam.com");
        await UpdateSettingsAsync(channel, mailboxId: otherTenantsMailbox.Id);

        var error = FailedCheck(await TestAsync(channel), MicrosoftEmailTester.MailboxCheck);

        Assert.Contains("404", error);
        Assert.DoesNotContain(Cloud.Requests, r => r.Mailbox == otherTenantsMailbox.Id && r.Status == 200);
    }

    [Fact]
    public async Task AnotherCompanyCannotTestTheChannel()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var other = await _app.TenantAsync("Other");

        var asOther = await _app.As(other.ManagementKey).PostAsync($"/api/companies/{other.CompanyId}/channels/{channel.ChannelId}/test", null);
        var intoOther = await _app.As(other.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null);

        Assert.Equal(HttpStatusCode.NotFound, asOther.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, intoOther.StatusCode);
        Assert.Empty(Cloud.GraphRequests(channel.Mailbox));
    }

    [Fact]
    public async Task OneCredentialPerChannelReusesItsTokenUntilTheSecretChanges()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var before = Cloud.TokenRequests;

        await TestAsync(channel);
        await TestAsync(channel);
        var afterTwoTests = Cloud.TokenRequests;
        var renewed = channel.Directory.AddApp();
        await UpdateSettingsAsync(channel, clientId: renewed.ClientId, clientSecret: renewed.Secret);
        var result = await TestAsync(channel);

        Assert.True(before + 1 == afterTwoTests, string.Join("\n", Cloud.Requests.Select(r => $"{r.At:HH:mm:ss.fff} {r.Method} {r.Path} {r.Status} {r.Body}")));
        Assert.Equal(afterTwoTests + 1, Cloud.TokenRequests);
        Assert.True(result["ok"]!.GetValue<bool>(), result.ToJsonString());
    }

    [Fact]
    public async Task TheClientSecretNeverAppearsInResponsesLogsOrTheStoredChannel()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await TestAsync(channel);
        var read = await _app.As(channel.Tenant.ManagementKey).GetStringAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}");
        await UpdateSettingsAsync(channel, clientId: Guid.NewGuid().ToString());
        await TestAsync(channel);

        var tables = new TableServiceClient(_app.StorageConnectionString);
        var rows = new List<string>();
        await foreach (var table in tables.QueryAsync())
        {
            await foreach (var entity in tables.GetTableClient(table.Name).QueryAsync<TableEntity>())
            {
                rows.Add(string.Join("|", entity.Select(p => p.Value is byte[] bytes ? System.Text.Encoding.UTF8.GetString(bytes) : p.Value?.ToString())));
            }
        }

        Assert.Contains("\"clientSecretSet\":true", read);
        Assert.DoesNotContain(channel.App.Secret, read);
        Assert.All(_responses, r => Assert.DoesNotContain(channel.App.Secret, r));
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains(channel.App.Secret, StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r.Contains(channel.App.Secret, StringComparison.Ordinal));
        Assert.NotEmpty(rows);
    }

    private async Task<JsonObject> TestAsync(GraphMailboxChannel channel)
    {
        var response = await _app.As(channel.Tenant.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null);
        var result = await Arrange.ReadAsync(response, HttpStatusCode.OK);
        _responses.Add(result.ToJsonString());
        return result;
    }

    private async Task UpdateSettingsAsync(GraphMailboxChannel channel, string? tenantId = null, string? clientId = null, string? clientSecret = null, string? mailboxId = null)
    {
        var settings = GraphArrange.Settings(channel.Mailbox, channel.App, tenantId, clientId, clientSecret, mailboxId);
        var response = await _app.As(channel.Tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}",
            new { name = "Canal", serviceId = channel.Tenant.ServiceId, settings });
        _responses.Add((await Arrange.ReadAsync(response, HttpStatusCode.OK)).ToJsonString());
    }

    private static string FailedCheck(JsonObject result, string name)
    {
        Assert.False(result["ok"]!.GetValue<bool>(), result.ToJsonString());
        var check = result["checks"]!.AsArray().Single(c => c!["name"]!.GetValue<string>() == name)!;
        Assert.False(check["ok"]!.GetValue<bool>(), result.ToJsonString());
        var error = check["error"]!.GetValue<string>();
        Assert.Contains(error, result["message"]!.GetValue<string>());
        return error;
    }
}
