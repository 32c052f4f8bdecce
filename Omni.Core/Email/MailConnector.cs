using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using Omni.Security;

namespace Omni.Email;

/// <summary>What went wrong talking to a mail server, in the terms a person fixing the settings needs.</summary>
public enum MailFailureKind
{
    NameResolution,
    ConnectionRefused,
    Unreachable,
    Timeout,
    Tls,
    Authentication,
    Rejected,
    Protocol,
    PrivateAddress,
}

/// <summary>A classified failure; <see cref="Message"/> is fit to show and never holds a secret.</summary>
public sealed record MailFailure(MailFailureKind Kind, string Message, bool Transient);

/// <summary>
/// Connects MailKit clients the one way the app does everywhere (poll, send, test): <c>ssl: true</c> is TLS from
/// the first byte; <c>ssl: false</c> requires STARTTLS, so a password never crosses the network in clear (a server
/// without it, or a network stripping it, is a TLS failure). Short timeouts; certificates checked against the
/// system roots plus <see cref="EmailOptions.TrustedCertificatesFile"/>. Sockets come from <see cref="SafeConnector"/>, so
/// only a public address is connected to, unless <see cref="EmailOptions.AllowPrivateHosts"/>.
/// Failures come back classified (<see cref="Classify"/>), so a TLS mismatch is reported as one.
/// </summary>
public sealed class MailConnector
{
    /// <summary>Says goodbye within two seconds; once the work is done a lost QUIT or LOGOUT changes nothing.</summary>
    public static async Task DisconnectQuietlyAsync(IMailService client)
    {
        using var quit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await client.DisconnectAsync(true, quit.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ProtocolException or CommandException)
        {
        }
    }

    private readonly X509Certificate2Collection _extraTrust;
    private readonly SafeConnector _connector;

    public MailConnector(IOptions<EmailOptions> options, SafeConnector connector)
    {
        _connector = connector;
        Options = options.Value;
        _extraTrust = [];
        if (Options.TrustedCertificatesFile is { Length: > 0 } file)
        {
            _extraTrust.ImportFromPemFile(file);
        }
    }

    public EmailOptions Options { get; }

    public static SecureSocketOptions SocketOptions(MailServer server) => server.Ssl ? SecureSocketOptions.SslOnConnect : SecureSocketOptions.StartTls;

    /// <summary>An IMAP client whose fetched messages go to temporary files, not memory (<see cref="SpoolingImapClient"/>).</summary>
    public ImapClient CreateImap(IProtocolLogger? logger = null) => Configure(new SpoolingImapClient(logger));

    public Pop3Client CreatePop3(IProtocolLogger? logger = null) => Configure(logger is null ? new Pop3Client() : new Pop3Client(logger));

    public SmtpClient CreateSmtp(IProtocolLogger? logger = null) => Configure(logger is null ? new SmtpClient() : new SmtpClient(logger));

    /// <summary>Connects within <paramref name="timeout"/> (default <see cref="EmailOptions.OperationTimeout"/>); throws <see cref="MailConnectionException"/> with the classified failure.</summary>
    public async Task ConnectAsync(IMailService client, MailServer server, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? Options.OperationTimeout;
        client.Timeout = (int)limit.TotalMilliseconds;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(limit);
        Socket? socket = null;
        try
        {
            socket = await ConnectSocketAsync(server, cts.Token);
            // MailKit takes over the socket; the host name still goes along so TLS checks the certificate against it.
            await client.ConnectAsync(socket, server.Host, server.Port, SocketOptions(server), cts.Token);
            socket = null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not MailConnectionException)
        {
            socket?.Dispose();
            var failure = Classify(ex, server);
            if (failure.Kind is MailFailureKind.Timeout or MailFailureKind.Protocol && !server.Ssl && await SpeaksTlsAsync(server, limit, cancellationToken))
            {
                failure = new MailFailure(MailFailureKind.Tls,
                    $"TLS mismatch: {server.Host}:{server.Port} expects TLS from the first byte, but ssl is false. Set ssl to true for this port.", Transient: false);
            }
            else if (failure is { Kind: MailFailureKind.Tls, Transient: false } && ex is SslHandshakeException h && CertificateProblem(h) is null && server.Ssl
                && !await GreetsInPlainTextAsync(server, limit, cancellationToken))
            {
                // The handshake broke off, but the port is no plain-text one: a server restarting, or going away mid-handshake.
                failure = HandshakeInterrupted(server);
            }

            throw new MailConnectionException(failure, ex);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }

    /// <summary>Through the app's one SSRF-safe connector; its refusal becomes the mail failure a person fixing the settings reads.</summary>
    private async Task<Socket> ConnectSocketAsync(MailServer server, CancellationToken cancellationToken)
    {
        try
        {
            return await _connector.ConnectAsync(server.Host, server.Port, Options.AllowPrivateHosts, cancellationToken);
        }
        catch (TargetRefusedException refused)
        {
            throw new MailConnectionException(refused.Addresses.Count == 0
                ? new MailFailure(MailFailureKind.NameResolution, $"Name resolution failed: the host name {server.Host} has no address.", Transient: true)
                : new MailFailure(MailFailureKind.PrivateAddress, $"Refused: {server.Host} is a private address ({string.Join(", ", refused.Addresses.Take(4))}); private, loopback, link-local and cloud metadata addresses are never connected to.", Transient: false),
                refused);
        }
    }

    /// <summary>Logs in as <paramref name="user"/>; a rejected password throws <see cref="MailConnectionException"/> of kind Authentication.</summary>
    public async Task AuthenticateAsync(IMailService client, string user, string password, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? Options.OperationTimeout);
        try
        {
            await client.AuthenticateAsync(user, password, cts.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var failure = Classify(ex, null);
            throw new MailConnectionException(failure.Kind == MailFailureKind.Authentication
                ? failure with { Message = $"Authentication failed: the server rejected the user name {user} or its password." }
                : failure, ex);
        }
    }

    /// <summary>Turns an exception from MailKit or the network into a failure a person can act on; never echoes a secret.</summary>
    public static MailFailure Classify(Exception ex, MailServer? server)
    {
        var where = server is null ? "the server" : $"{server.Host}:{server.Port}";
        switch (ex)
        {
            case MailConnectionException mce:
                return mce.Failure;
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain }:
                return new(MailFailureKind.NameResolution, $"Name resolution failed: the host name {server?.Host} was not found.", Transient: true);
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return new(MailFailureKind.ConnectionRefused, $"Connection refused by {where}: nothing listens on that port. Check the port.", Transient: true);
            case SocketException { SocketErrorCode: SocketError.TimedOut }:
            case TimeoutException:
            case OperationCanceledException:
                return new(MailFailureKind.Timeout, $"Timeout: {where} did not answer in time. Check the host, the port and the ssl setting.", Transient: true);
            case SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted } s:
                // The port answered, so "could not reach" would send the reader after the wrong thing.
                return new(MailFailureKind.Unreachable, $"{where} dropped the connection ({s.SocketErrorCode}); it is tried again.", Transient: true);
            case SocketException s:
                return new(MailFailureKind.Unreachable, $"Could not reach {where} ({s.SocketErrorCode}).", Transient: true);
            case SslHandshakeException h when CertificateProblem(h) is null && HasSocketError(h):
                // A reset is the network's or a restarting server's doing, never the settings'.
                return HandshakeInterrupted(server);
            case SslHandshakeException h:
                return new(MailFailureKind.Tls, CertificateProblem(h) is { } problem
                    ? $"TLS failed: the certificate of {where} is not trusted ({problem})."
                    : $"TLS handshake with {where} failed: the port does not speak TLS from the first byte. If it expects plain text or STARTTLS, set ssl to false.", Transient: false);
            case NotSupportedException when server is { Ssl: false } || ex.Message.Contains("STARTTLS", StringComparison.OrdinalIgnoreCase):
                // MailKit refuses to log in without the STARTTLS that ssl:false requires.
                return new(MailFailureKind.Tls, $"TLS failed: {where} offers no STARTTLS; enable TLS or use the SSL port (ssl true), so the password is never sent in clear.", Transient: false);
            case AuthenticationException:
                return new(MailFailureKind.Authentication, "Authentication failed: the server rejected the user name or password.", Transient: false);
            case SmtpCommandException c:
                var code = (int)c.StatusCode;
                return new(MailFailureKind.Rejected, $"The mail server refused it ({code}): {Shorten(c.Message)}", Transient: code is >= 400 and < 500);
            case CommandException or ProtocolException or IOException or ServiceNotConnectedException or ServiceNotAuthenticatedException:
                return new(MailFailureKind.Protocol, $"{where} closed the connection or answered unexpectedly: {Shorten(ex.Message)}", Transient: true);
            default:
                return new(MailFailureKind.Protocol, $"Unexpected failure talking to {where}: {ex.GetType().Name}.", Transient: true);
        }
    }

    private static MailFailure HandshakeInterrupted(MailServer? server) =>
        new(MailFailureKind.Protocol, $"{(server is null ? "the server" : $"{server.Host}:{server.Port}")} closed the connection during the TLS handshake; it is tried again.", Transient: true);

    private static bool HasSocketError(Exception ex)
    {
        for (var e = ex.InnerException; e is not null; e = e.InnerException)
        {
            if (e is SocketException)
            {
                return true;
            }
        }

        return false;
    }

    private static string? CertificateProblem(SslHandshakeException h) =>
        h.ServerCertificate is null ? null
        : h.InnerException is System.Security.Authentication.AuthenticationException a && a.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase) ? "it is self-signed, expired or for another host"
        : h.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase) && !h.Message.Contains("plain", StringComparison.OrdinalIgnoreCase) ? "it is self-signed, expired or for another host"
        : null;

    // Server text reaches the settings test's answer: only a short fragment, printable ASCII, so the test cannot be
    // used to read banners or pages of services it was pointed at.
    private static string Shorten(string s)
    {
        var printable = new string(s.Select(c => c is >= ' ' and <= '~' ? c : ' ').ToArray());
        printable = string.Join(' ', printable.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return printable.Length > MaxServerText ? printable[..MaxServerText] + "…" : printable;
    }

    private const int MaxServerText = 80;

    // A plain-text client on a TLS-on-connect port waits for a greeting that never comes; a TLS handshake on a
    // second connection tells that case apart from a server that is simply slow.
    private async Task<bool> SpeaksTlsAsync(MailServer server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var socket = await ConnectSocketAsync(server, cts.Token);
            await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = server.Host, RemoteCertificateValidationCallback = (_, _, _, _) => true }, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException or MailConnectionException)
        {
            return false;
        }
    }

    // SMTP, IMAP and POP3 servers all greet first: a plain-text port answers a silent client with a line of text,
    // which tells "ssl on a plain port" (a settings error) apart from a handshake that was merely cut off.
    private async Task<bool> GreetsInPlainTextAsync(MailServer server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var socket = await ConnectSocketAsync(server, cts.Token);
            var greeting = new byte[1];
            return await socket.ReceiveAsync(greeting, SocketFlags.None, cts.Token) == 1 && greeting[0] is (byte)'*' or (byte)'+' or (>= (byte)'0' and <= (byte)'9');
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or MailConnectionException
            && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private T Configure<T>(T client) where T : MailService
    {
        client.ServerCertificateValidationCallback = Validate;
        client.CheckCertificateRevocation = false;
        return client;
    }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // Only chain problems can be cured by the extra roots; a wrong host name never is.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null || _extraTrust.Count == 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_extraTrust);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var cert = new X509Certificate2(certificate);
        return custom.Build(cert);
    }
}

/// <summary>A mail server could not be used; <see cref="Failure"/> says why in words fit to show.</summary>
public sealed class MailConnectionException(MailFailure failure, Exception? inner = null) : Exception(failure.Message, inner)
{
    public MailFailure Failure { get; } = failure;
}
