using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Omni.Tests.Email;

/// <summary>
/// An SMTP server (TLS from the first byte, with the test servers' certificate) that takes a whole message after DATA
/// and then drops the connection instead of answering 250: the moment when the sender cannot know whether it was accepted.
/// </summary>
internal sealed class DataDroppingSmtpServer : IAsyncDisposable
{
    private readonly X509Certificate2 _certificate;
    private readonly FakeMailServer _server;
    private int _messages;

    public DataDroppingSmtpServer(string certificateFile)
    {
        _certificate = X509Certificate2.CreateFromPemFile(certificateFile, Path.Combine(Path.GetDirectoryName(certificateFile)!, "key.pem"));
        _server = FakeMailServer.Start(ServeAsync);
    }

    public int Port => _server.Port;

    /// <summary>Messages received in full (up to the final "."), each left unanswered.</summary>
    public int Messages => Volatile.Read(ref _messages);

    private async Task ServeAsync(Stream stream, CancellationToken cancellationToken)
    {
        await using var tls = new SslStream(stream);
        await tls.AuthenticateAsServerAsync(_certificate);
        using var reader = new StreamReader(tls, Encoding.Latin1);
        await using var writer = new StreamWriter(tls, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
        await writer.WriteLineAsync("220 fake.test ESMTP");
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            var verb = line.Split(' ', 2)[0].ToUpperInvariant();
            if (verb == "DATA")
            {
                await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                while (await reader.ReadLineAsync(cancellationToken) is { } data && data != ".")
                {
                }

                Interlocked.Increment(ref _messages);
                return;
            }

            await writer.WriteLineAsync(verb switch
            {
                "EHLO" or "HELO" => "250 fake.test",
                "MAIL" or "RCPT" or "RSET" or "NOOP" => "250 2.0.0 Ok",
                "QUIT" => "221 2.0.0 Bye",
                _ => "502 5.5.2 Error: command not recognized",
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
    }
}
