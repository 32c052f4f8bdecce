using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>"Testar Configurações" for e-mail channels against real Dovecot (IMAP/POP3) and Postfix (SMTP).</summary>
public sealed class EmailChannelTestTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static IEnumerable<JsonObject> Checks(JsonObject result) => result["checks"]!.AsArray().Select(c => c!.AsObject());

    private static string FailureText(JsonObject result) => string.Join(" | ", Checks(result).Where(c => !c["ok"]!.GetValue<bool>()).Select(c => $"{c["name"]}: {c["error"]}"));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task GoodImapAndSmtpSettingsSayConfiguracoesOk(bool ssl)
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox, ssl));

        var result = await _app.TestChannelAsync(tenant, channelId);

        Assert.True(result["ok"]!.GetValue<bool>(), FailureText(result));
        Assert.Equal("Configurações OK", result["message"]!.GetValue<string>());
        Assert.Equal(4, Checks(result).Count());
        Assert.Contains(Checks(result), c => c["name"]!.GetValue<string>().Contains("IMAP", StringComparison.Ordinal));
        Assert.Contains(Checks(result), c => c["name"]!.GetValue<string>().Contains("SMTP", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GoodPop3SettingsSayConfiguracoesOk()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));

        var result = await _app.TestChannelAsync(tenant, channelId);

        Assert.True(result["ok"]!.GetValue<bool>(), FailureText(result));
        Assert.Contains(Checks(result), c => c["name"]!.GetValue<string>().Contains("POP3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AWrongPasswordIsReportedAsAuthenticationOnBothServersWithoutEchoingIt()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var wrong = "Wrong-Pa55-" + Guid.NewGuid().ToString("N")[..8];
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox with { Password = wrong }));

        var result = await _app.TestChannelAsync(tenant, channelId);

        Assert.False(result["ok"]!.GetValue<bool>());
        var failed = Checks(result).Where(c => !c["ok"]!.GetValue<bool>()).ToList();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, c => Assert.Contains("Authentication failed", c["error"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.Contains(failed, c => c["name"]!.GetValue<string>().StartsWith("Incoming server (IMAP): login", StringComparison.Ordinal));
        Assert.Contains(failed, c => c["name"]!.GetValue<string>().StartsWith("Outgoing server (SMTP): login", StringComparison.Ordinal));
        Assert.DoesNotContain(wrong, result.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains(wrong, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AWrongPortIsReportedAsConnectionRefused()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var closed = Repository.FreeTcpPort();
        var channelId = await _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "127.0.0.1", port = closed, ssl = true },
            outgoing = new { host = "127.0.0.1", port = _servers.SmtpsPort, ssl = true },
        });

        var result = await _app.TestChannelAsync(tenant, channelId);

        var failed = Assert.Single(Checks(result), c => !c["ok"]!.GetValue<bool>());
        Assert.Equal("Incoming server (IMAP): connection", failed["name"]!.GetValue<string>());
        Assert.Contains("Connection refused", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{closed}", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SslOnAPlainTextPortIsReportedAsATlsProblem()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "127.0.0.1", port = _servers.ImapPort, ssl = true },
            outgoing = new { host = "127.0.0.1", port = _servers.SmtpPort, ssl = true },
        });

        var result = await _app.TestChannelAsync(tenant, channelId);

        var failed = Checks(result).Where(c => !c["ok"]!.GetValue<bool>()).ToList();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, c => Assert.Contains("TLS", c["error"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.All(failed, c => Assert.Contains("set ssl to false", c["error"]!.GetValue<string>(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task PlainTextOnATlsPortIsReportedAsATlsMismatch()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "pop3", host = "127.0.0.1", port = _servers.Pop3sPort, ssl = false },
            outgoing = new { host = "127.0.0.1", port = _servers.SmtpsPort, ssl = false },
        });

        var result = await _app.TestChannelAsync(tenant, channelId);

        var failed = Checks(result).Where(c => !c["ok"]!.GetValue<bool>()).ToList();
        Assert.Equal(2, failed.Count);
        Assert.All(failed, c => Assert.Contains("TLS mismatch", c["error"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.All(failed, c => Assert.Contains("set ssl to true", c["error"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task AnUnknownHostIsReportedAsNameResolution()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "no-such-host.invalid", port = 993, ssl = true },
            outgoing = new { host = "127.0.0.1", port = _servers.SmtpsPort, ssl = true },
        });

        var result = await _app.TestChannelAsync(tenant, channelId);

        var failed = Assert.Single(Checks(result), c => !c["ok"]!.GetValue<bool>());
        Assert.Contains("Name resolution failed", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("no-such-host.invalid", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task APlainPortWithoutStartTlsIsATlsFailureAndNoPasswordIsSent()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        await using var imap = await FakeMailServer.StartAsync("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] no TLS here\r\n");
        var channelId = await _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "127.0.0.1", port = imap.Port, ssl = false },
            outgoing = new { host = "127.0.0.1", port = _servers.SmtpNoStartTlsPort, ssl = false },
        });

        var result = await _app.TestChannelAsync(tenant, channelId);

        var failed = Checks(result).Where(c => !c["ok"]!.GetValue<bool>()).ToList();
        Assert.Equal(["Incoming server (IMAP): connection", "Outgoing server (SMTP): connection"], failed.Select(c => c["name"]!.GetValue<string>()).Order());
        Assert.All(failed, c => Assert.Contains("offers no STARTTLS; enable TLS or use the SSL port", c["error"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.DoesNotContain(mailbox.Password, imap.Received, StringComparison.Ordinal);
        Assert.DoesNotContain("LOGIN", imap.Received, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AServersBannerIsEchoedOnlyAsAShortPrintableFragment()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        await using var smtp = await FakeMailServer.StartAsync("554 5.7.1 \u001b[31m" + new string('x', 150) + " internal-build-4711 " + new string('y', 500) + "\r\n");
        var channelId = await _app.EmailChannelAsync(tenant, new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "127.0.0.1", port = _servers.ImapsPort, ssl = true },
            outgoing = new { host = "127.0.0.1", port = smtp.Port, ssl = false },
        });

        var result = await _app.TestChannelAsync(tenant, channelId);

        var failed = Assert.Single(Checks(result), c => !c["ok"]!.GetValue<bool>());
        var error = failed["error"]!.GetValue<string>();
        Assert.Equal("Outgoing server (SMTP): connection", failed["name"]!.GetValue<string>());
        Assert.DoesNotContain("internal-build-4711", error, StringComparison.Ordinal);
        Assert.True(error.Length < 200, error);
        Assert.DoesNotContain(error, char.IsControl);
    }
}
