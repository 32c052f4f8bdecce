using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>What the SMTP transport tells the outbound pipeline when Postfix refuses, for now or for good.</summary>
public sealed class SmtpTransportTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<SendResult> SendAsync(object settings, string to)
    {
        var tenant = await _app.TenantAsync();
        var channelId = await _app.EmailChannelAsync(tenant, settings);
        var channel = (await _app.Services.GetRequiredService<IChannelStore>().GetAsync(tenant.CompanyId, channelId))!;
        var now = DateTimeOffset.UtcNow;
        var conversation = new Conversation("cnv_test", tenant.CompanyId, channelId, new ContactInfo(to, "Cliente", to), null, "Pedido", ConversationStatus.Open, now, now, null);
        var message = new Message("msg_test" + Guid.NewGuid().ToString("N")[..8], tenant.CompanyId, channelId, conversation.Id, MessageDirection.Outbound, null, "Olá", null, null, [], null, null, MessageStatus.Queued, null, now);
        var transport = _app.Services.GetRequiredService<IEnumerable<IOutboundTransport>>().Single(t => t.ChannelType == "email");
        return await transport.SendAsync(channel, conversation, message);
    }

    // A fresh mailbox whose outgoing server is 127.0.0.1:port with ssl on.
    private object OutgoingTo(int port)
    {
        var mailbox = _servers.NewMailbox();
        return new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "127.0.0.1", port = _servers.ImapsPort, ssl = true },
            outgoing = new { host = "127.0.0.1", port, ssl = true },
        };
    }

    [Fact]
    public async Task AnAcceptedMessageIsSentWithItsMessageIdForThreading()
    {
        var mailbox = _servers.NewMailbox();
        var customer = _servers.NewMailbox(MailServerProcess.CustomerDomain, "c");

        var result = await SendAsync(EmailArrange.ImapSettings(_servers, mailbox), customer.Address);

        Assert.Equal(SendOutcome.Sent, result.Outcome);
        Assert.EndsWith("@" + MailServerProcess.Domain, result.Mail!.MessageId, StringComparison.Ordinal);
        await _servers.WaitForInboxAsync(customer, 1);
        Assert.Equal(result.Mail.MessageId, (await _servers.ReadInboxAsync(customer)).Single().Message.MessageId);
    }

    [Fact]
    public async Task APermanentRefusalIsPermanentWithTheServersReason()
    {
        var result = await SendAsync(EmailArrange.ImapSettings(_servers, _servers.NewMailbox()), MailServerProcess.RejectedRecipient);

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains("550", result.Error, StringComparison.Ordinal);
        Assert.Contains("No such user here", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATemporaryRefusalIsTransient()
    {
        var result = await SendAsync(EmailArrange.ImapSettings(_servers, _servers.NewMailbox()), MailServerProcess.BusyRecipient);

        Assert.Equal(SendOutcome.Transient, result.Outcome);
        Assert.Contains("450", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARejectedPasswordIsPermanentAndNamesAuthenticationWithoutThePassword()
    {
        var mailbox = _servers.NewMailbox();
        var wrong = "Wrong-" + Guid.NewGuid().ToString("N")[..10];

        var result = await SendAsync(EmailArrange.ImapSettings(_servers, mailbox with { Password = wrong }), "x@" + MailServerProcess.CustomerDomain);

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains("Authentication failed", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains(wrong, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AServerThatIsDownIsTransient()
    {
        var result = await SendAsync(OutgoingTo(Repository.FreeTcpPort()), "x@" + MailServerProcess.CustomerDomain);

        Assert.Equal(SendOutcome.Transient, result.Outcome);
        Assert.Contains("Connection refused", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ProxyFault.Reset)]
    [InlineData(ProxyFault.Close)]
    public async Task AServerGoingAwayDuringTheTlsHandshakeIsTransientNotASettingsError(ProxyFault fault)
    {
        // Postfix restarting looks like this on the wire: the port accepts, then resets or closes before any TLS.
        await using var proxy = TcpFaultProxy.Start(_servers.SmtpsPort);
        proxy.Fault = fault;

        var result = await SendAsync(OutgoingTo(proxy.Port), "x@" + MailServerProcess.CustomerDomain);

        Assert.Equal(SendOutcome.Transient, result.Outcome);
        // A reset may surface from the socket before TLS sees it; either way the error names the dropped connection.
        Assert.Matches("during the TLS handshake|dropped the connection", result.Error);
        Assert.DoesNotContain("set ssl to false", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SslOnThePlainSubmissionPortIsPermanentAndSaysToTurnSslOff()
    {
        var result = await SendAsync(OutgoingTo(_servers.SmtpPort), "x@" + MailServerProcess.CustomerDomain);

        Assert.Equal(SendOutcome.Permanent, result.Outcome);
        Assert.Contains("set ssl to false", result.Error, StringComparison.Ordinal);
    }
}
