using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Omni.Tests.Email;

/// <summary>
/// A loopback listener that greets every connection with a fixed banner and records what clients send: a server
/// real Dovecot/Postfix cannot play (an IMAP server without STARTTLS, a chatty banner) and a witness of connections.
/// </summary>
internal sealed class FakeMailServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<Stream, CancellationToken, Task> _session;
    private readonly CancellationTokenSource _stop = new();
    private readonly StringBuilder _received = new();
    private readonly Task _loop;
    private int _connections;

    private FakeMailServer(Func<FakeMailServer, Func<Stream, CancellationToken, Task>> session)
    {
        _session = session(this);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    public string Received
    {
        get
        {
            lock (_received)
            {
                return _received.ToString();
            }
        }
    }

    public static Task<FakeMailServer> StartAsync(string banner) => Task.FromResult(new FakeMailServer(server => (stream, stop) => server.RecordAsync(stream, banner, stop)));

    /// <summary>A server that plays <paramref name="session"/> on each connection (its I/O failures end the connection quietly).</summary>
    public static FakeMailServer Start(Func<Stream, CancellationToken, Task> session) => new(_ => session);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await _session(client.GetStream(), _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
            {
            }
        }
    }

    private async Task RecordAsync(Stream stream, string banner, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(banner), cancellationToken);
        var buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            lock (_received)
            {
                _received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
