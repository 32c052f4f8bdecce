using System.Diagnostics;
using MailKit;
using Omni.Channels;

namespace Omni.Email;

/// <summary>
/// "Testar Configurações" for <c>email</c> channels: connects and logs in to the incoming server (IMAP or POP3)
/// and to the SMTP server with the configured TLS mode, each within <see cref="EmailOptions.TestTimeout"/>. Each
/// failing check says what failed (name resolution, connection refused, TLS, authentication, timeout).
/// </summary>
internal sealed class EmailChannelTester(MailConnector connector, IChannelStore channels) : IChannelTester
{
    public string ChannelType => ChannelTypes.Email;

    public async Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var settings = EmailSettings.From(channel);
        var password = channels.RevealSecret(channel, EmailSettings.PasswordField) ?? "";
        var incomingName = settings.Protocol == IncomingProtocol.Pop3 ? "POP3" : "IMAP";
        var checks = new List<ChannelCheck>();
        // The two servers are independent: test them side by side so a dead one costs one timeout, not two.
        using IMailService incoming = settings.Protocol == IncomingProtocol.Pop3 ? connector.CreatePop3() : connector.CreateImap();
        using var smtp = connector.CreateSmtp();
        var results = await Task.WhenAll(
            CheckServerAsync(incoming, $"Incoming server ({incomingName})", settings.Incoming, settings.Address, password, cancellationToken),
            CheckServerAsync(smtp, "Outgoing server (SMTP)", settings.Outgoing, settings.Address, password, cancellationToken));
        foreach (var r in results)
        {
            checks.AddRange(r);
        }

        return checks;
    }

    private async Task<List<ChannelCheck>> CheckServerAsync(IMailService client, string name, MailServer server, string user, string password, CancellationToken cancellationToken)
    {
        var checks = new List<ChannelCheck>();
        var timeout = connector.Options.TestTimeout;
        var watch = Stopwatch.StartNew();
        try
        {
            await connector.ConnectAsync(client, server, timeout, cancellationToken);
            checks.Add(new ChannelCheck($"{name}: connection", true, watch.ElapsedMilliseconds));
        }
        catch (MailConnectionException ex)
        {
            checks.Add(new ChannelCheck($"{name}: connection", false, watch.ElapsedMilliseconds, ex.Failure.Message));
            return checks;
        }

        watch.Restart();
        try
        {
            if (client is MailKit.Net.Smtp.SmtpClient { Capabilities: var caps } && !caps.HasFlag(MailKit.Net.Smtp.SmtpCapabilities.Authentication))
            {
                checks.Add(new ChannelCheck($"{name}: login", false, watch.ElapsedMilliseconds,
                    server.Ssl ? "The server offers no login (SMTP AUTH) on this port." : "The server offers no login (SMTP AUTH) here; it may need ssl true or a submission port."));
                return checks;
            }

            await connector.AuthenticateAsync(client, user, password, timeout, cancellationToken);
            checks.Add(new ChannelCheck($"{name}: login", true, watch.ElapsedMilliseconds));
            using var quit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            quit.CancelAfter(TimeSpan.FromSeconds(2));
            await client.DisconnectAsync(true, quit.Token);
        }
        catch (MailConnectionException ex)
        {
            checks.Add(new ChannelCheck($"{name}: login", false, watch.ElapsedMilliseconds, ex.Failure.Message));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or MailKit.ProtocolException && !cancellationToken.IsCancellationRequested)
        {
            // A failed QUIT after a good login changes nothing the user needs to know.
        }

        return checks;
    }
}
