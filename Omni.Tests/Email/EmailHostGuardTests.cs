using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// Mail hosts with <c>Omni:Email:AllowPrivateHosts</c> off, as in production: a literal private address is refused
/// when the channel is saved, a name resolving to one is refused before connecting, so "Testar Configurações"
/// cannot scan the internal network. (Every other e-mail test runs with it on, its servers being on loopback.)
/// </summary>
public sealed class EmailHostGuardTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers, new Dictionary<string, string?> { ["Omni:Email:AllowPrivateHosts"] = "false" }));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [InlineData("127.0.0.1", "incoming")]
    [InlineData("169.254.169.254", "outgoing")]
    [InlineData("10.1.2.3", "incoming")]
    [InlineData("168.63.129.16", "outgoing")]
    public async Task SavingAChannelWithAPrivateHostIsABadRequestNamingTheField(string host, string which)
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var incomingHost = which == "incoming" ? host : "imap.example.com";
        var outgoingHost = which == "outgoing" ? host : "smtp.example.com";

        var response = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels", new
        {
            type = "email",
            name = "E-mail",
            serviceId = tenant.ServiceId,
            settings = new
            {
                address = mailbox.Address,
                password = mailbox.Password,
                incoming = new { protocol = "imap", host = incomingHost, port = 993, ssl = true },
                outgoing = new { host = outgoingHost, port = 465, ssl = true },
            },
        });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        var errors = problem["errors"]!.AsObject();
        Assert.True(errors.ContainsKey($"settings.{which}.host"), errors.ToJsonString());
        Assert.Single(errors);
        Assert.Contains("private", errors[$"settings.{which}.host"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHostNameResolvingToLoopbackFailsTheSettingsTestWithoutConnecting()
    {
        var tenant = await _app.TenantAsync();
        await using var witness = await FakeMailServer.StartAsync("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        var channelId = await LoopbackChannelAsync(tenant, witness.Port);

        var result = await _app.TestChannelAsync(tenant, channelId);

        Assert.False(result["ok"]!.GetValue<bool>());
        var checks = result["checks"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.Equal(2, checks.Count);
        Assert.All(checks, c => Assert.Contains("private address", c["error"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.Equal(0, witness.Connections);
    }

    [Fact]
    public async Task PollingAMailboxWhoseHostResolvesToLoopbackNeverConnects()
    {
        var tenant = await _app.TenantAsync();
        await using var witness = await FakeMailServer.StartAsync("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
        var channelId = await LoopbackChannelAsync(tenant, witness.Port);

        var refused = await Assert.ThrowsAsync<Omni.Email.MailConnectionException>(() => _app.PollAsync(tenant, channelId));

        Assert.Equal(Omni.Email.MailFailureKind.PrivateAddress, refused.Failure.Kind);
        Assert.Equal(0, witness.Connections);
    }

    /// <summary>A mailbox whose servers are named <c>localhost</c>: a name, so only the connect-time guard can stop it.</summary>
    private Task<string> LoopbackChannelAsync(TestTenant tenant, int port)
    {
        var mailbox = _servers.NewMailbox();
        return _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "localhost", port, ssl = false },
            outgoing = new { host = "localhost", port, ssl = false },
        });
    }
}
