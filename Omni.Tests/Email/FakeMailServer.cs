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
    private readonly string _banner;
    private readonly CancellationTokenSource _stop = new();
    private readonly StringBuilder _received = new();
    private readonly Task _loop;
    private int _connections;

    private FakeMailServer(string banner)
    {
        _banner = banner;
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

    public static Task<FakeMailServer> StartAsync(string banner) => Task.FromResult(new FakeMailServer(banner));

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
                var stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes(_banner), _stop.Token);
                var buffer = new byte[4096];
                int read;
                while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                {
                    lock (_received)
                    {
                        _received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
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
