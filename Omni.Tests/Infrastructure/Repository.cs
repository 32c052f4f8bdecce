namespace Omni.Tests.Infrastructure;

internal static class Repository
{
    /// <summary>The checkout's root (where Omni.sln is), found from the test binary's folder.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Omni.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Could not find Omni.sln above " + AppContext.BaseDirectory);
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port free now, below Linux's ephemeral range (32768–60999): a port the kernel picks from that range can be
    /// taken as the source port of any outgoing connection of the busy test run before the server it was meant for
    /// binds it (Postfix failed so once with "Address already in use", failing every mail test). No port is handed
    /// out twice in one run.
    /// </summary>
    public static int FreeTcpPort()
    {
        for (var tries = 0; tries < 200; tries++)
        {
            var port = Random.Shared.Next(20000, 32768);
            lock (HandedOut)
            {
                if (HandedOut.Contains(port))
                {
                    continue;
                }
            }

            try
            {
                using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                probe.Start();
            }
            catch (System.Net.Sockets.SocketException)
            {
                continue;
            }

            lock (HandedOut)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }

        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task WaitForPortAsync(int port, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new InvalidOperationException($"{what} did not start listening on 127.0.0.1:{port} within {timeout.TotalSeconds:0} s.");
    }
}
