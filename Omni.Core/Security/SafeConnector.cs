using System.Net;
using System.Net.Sockets;

namespace Omni.Security;

/// <summary>Turns a host name into addresses; a seam so tests can point a name at loopback.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken = default);
}

internal sealed class DnsHostResolver : IHostResolver
{
    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken = default) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>
/// The connection was refused before it was made: <see cref="Host"/> resolved to no address, or only to addresses
/// <see cref="TargetAddressPolicy.IsPublic"/> does not allow (listed in <see cref="Addresses"/>).
/// </summary>
public sealed class TargetRefusedException(string host, IReadOnlyList<IPAddress> addresses, string? message = null)
    : Exception(message ?? (addresses.Count == 0
        ? $"Refused: {host} did not resolve to any address."
        : $"Refused: {host} resolves to {string.Join(", ", addresses.Take(4))}, not a public address (private, loopback, link-local and cloud metadata addresses are never called)."))
{
    public string Host { get; } = host;

    public IReadOnlyList<IPAddress> Addresses { get; } = addresses;
}

/// <summary>
/// The one way the app opens a TCP connection to a host a customer named (webhooks, mail servers, provider APIs):
/// it resolves the name itself and connects only to an address <see cref="TargetAddressPolicy.IsPublic"/> allows, so
/// the check holds for the address actually connected to and a name re-pointed at a private address (DNS
/// rebinding) gets nowhere. <c>allowPrivate</c> is for development and tests against loopback servers.
/// </summary>
public sealed class SafeConnector(IHostResolver resolver)
{
    /// <summary>A connected socket, tried address by address; throws <see cref="TargetRefusedException"/> or the last <see cref="SocketException"/>.</summary>
    public async Task<Socket> ConnectAsync(string host, int port, bool allowPrivate, CancellationToken cancellationToken = default)
    {
        var addresses = await resolver.ResolveAsync(host, cancellationToken);
        var allowed = allowPrivate ? addresses : addresses.Where(TargetAddressPolicy.IsPublic).ToArray();
        if (allowed.Length == 0)
        {
            throw new TargetRefusedException(host, addresses);
        }

        SocketException? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    /// <summary>
    /// A handler for an <see cref="HttpClient"/> that reaches customer-named hosts: every connection goes through
    /// <see cref="ConnectAsync"/>; no proxy (through one the check would vet the proxy, not the target), no
    /// redirects followed, no cookies, and pooled connections renewed so a changed DNS answer is checked again.
    /// <paramref name="allowPrivate"/> is read on every connection, so a changed option applies at once.
    /// </summary>
    public SocketsHttpHandler CreateHttpHandler(Func<bool> allowPrivate) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        ConnectCallback = async (context, cancellationToken) =>
            new NetworkStream(await ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, allowPrivate(), cancellationToken), ownsSocket: true),
    };
}
