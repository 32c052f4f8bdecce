using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Omni.Tests.Infrastructure;

/// <summary>What the proxy does with a new connection.</summary>
public enum ProxyFault
{
    /// <summary>Forward both ways (subject to <see cref="TcpFaultProxy.CutAfter"/>).</summary>
    None,

    /// <summary>Accept, then reset at once (RST): a peer that crashes on every request.</summary>
    Reset,

    /// <summary>Accept and read, never answer: a peer that hangs.</summary>
    Hang,

    /// <summary>Accept, then close cleanly (FIN) at once: a server going away between accept and greeting.</summary>
    Close,
}

/// <summary>
/// A TCP proxy on 127.0.0.1 between the app and a real server (Azurite, Dovecot, Postfix, a webhook sink), for the
/// fault-injection tests: <see cref="Down"/> stops listening and resets every open connection (what a stopped server
/// looks like on the wire: connections refused), <see cref="Up"/> listens again on the same port, <see cref="Fault"/>
/// resets or hangs new connections, and <see cref="CutAfter"/> resets a connection once the server has sent that
/// many bytes through it.
/// </summary>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    private readonly int _targetPort;
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly object _gate = new();
    private TcpListener? _listener;
    private CancellationTokenSource? _accepting;
    private int _connections;
    private int _cuts;
    private int _sessionsResetByDown;
    private const byte ClientSide = 0;
    private const byte ServerSide = 1;

    private TcpFaultProxy(int targetPort, int port)
    {
        _targetPort = targetPort;
        Port = port;
    }

    public int Port { get; }

    public ProxyFault Fault { get; set; }

    /// <summary>For connection n (1-based): reset it after the server has sent this many bytes through it; null: never.</summary>
    public Func<int, long?>? CutAfter { get; set; }

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Connections that were open when <see cref="Down"/> reset them, so far.</summary>
    public int SessionsResetByDown => Volatile.Read(ref _sessionsResetByDown);

    /// <summary>Client connections open through the proxy right now.</summary>
    public int OpenSessions => _open.Values.Count(role => role == ClientSide);

    /// <summary>Connections cut by <see cref="CutAfter"/> so far.</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    public bool IsUp
    {
        get
        {
            lock (_gate)
            {
                return _listener is not null;
            }
        }
    }

    public static TcpFaultProxy Start(int targetPort)
    {
        var proxy = new TcpFaultProxy(targetPort, Repository.FreeTcpPort());
        proxy.Up();
        return proxy;
    }

    /// <summary>Listens again on the same port.</summary>
    public void Up()
    {
        lock (_gate)
        {
            if (_listener is not null)
            {
                return;
            }

            var listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start(512);
            _listener = listener;
            _accepting = new CancellationTokenSource();
            _ = AcceptAsync(listener, _accepting.Token);
        }
    }

    /// <summary>Stops listening (new connections are refused) and resets every open connection.</summary>
    public void Down()
    {
        lock (_gate)
        {
            _accepting?.Cancel();
            _listener?.Stop();
            _listener = null;
        }

        foreach (var (socket, role) in _open)
        {
            if (Abort(socket) && role == ClientSide)
            {
                Interlocked.Increment(ref _sessionsResetByDown);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        Down();
        return ValueTask.CompletedTask;
    }

    private async Task AcceptAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            // Registered before it is counted, so a session counted in Connections is in OpenSessions until it ends.
            _open[client] = ClientSide;
            _ = HandleAsync(client, Interlocked.Increment(ref _connections));
        }
    }

    private async Task HandleAsync(Socket client, int ordinal)
    {
        Socket? server = null;
        try
        {
            switch (Fault)
            {
                case ProxyFault.Reset:
                    return;
                case ProxyFault.Close:
                    if (_open.TryRemove(client, out _))
                    {
                        client.Shutdown(SocketShutdown.Both);
                        client.Dispose();
                    }

                    return;
                case ProxyFault.Hang:
                    // Read and drop whatever comes until the peer gives up or the proxy goes down; answer nothing.
                    var sink = new byte[4096];
                    while (await client.ReceiveAsync(sink) > 0)
                    {
                    }

                    return;
            }

            server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _open[server] = ServerSide;
            await server.ConnectAsync(IPAddress.Loopback, _targetPort);
            var limit = CutAfter?.Invoke(ordinal);
            var up = PumpAsync(client, server, null);
            var down = PumpAsync(server, client, limit);
            var first = await Task.WhenAny(up, down);
            if (first == down && await down)
            {
                Interlocked.Increment(ref _cuts);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            Abort(client);
            if (server is not null)
            {
                Abort(server);
            }
        }
    }

    /// <summary>Copies until either side closes; true when it stopped because <paramref name="limit"/> bytes went through.</summary>
    private static async Task<bool> PumpAsync(Socket from, Socket to, long? limit)
    {
        var buffer = new byte[16 * 1024];
        long sent = 0;
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer);
                if (n == 0)
                {
                    return false;
                }

                if (limit is { } max && sent + n >= max)
                {
                    var part = (int)(max - sent);
                    if (part > 0)
                    {
                        await to.SendAsync(buffer.AsMemory(0, part));
                    }

                    return true;
                }

                await to.SendAsync(buffer.AsMemory(0, n));
                sent += n;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    // Linger 0 makes Close send RST: the peer sees "connection reset", not a clean end of stream.
    private bool Abort(Socket socket)
    {
        if (!_open.TryRemove(socket, out _))
        {
            return false;
        }

        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
        return true;
    }
}
