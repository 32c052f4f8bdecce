using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Omni.Webhooks;

/// <summary>Turns a webhook host name into addresses; a seam so tests can point a name at loopback.</summary>
internal interface IWebhookHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken = default);
}

internal sealed class DnsWebhookHostResolver : IWebhookHostResolver
{
    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken = default) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>The connection was refused before it was made: the target is not an address a webhook may reach.</summary>
public sealed class WebhookTargetRefusedException(string message) : Exception(message);

/// <summary>
/// The <see cref="SocketsHttpHandler.ConnectCallback"/> of the webhook client: it resolves the name itself and
/// connects only to an address <see cref="TargetAddressPolicy.IsPublic"/> allows, so the check holds for the
/// address actually connected to and a name re-pointed at a private address (DNS rebinding) gets nowhere.
/// </summary>
internal sealed class WebhookConnectGuard(IWebhookHostResolver resolver, IOptionsMonitor<WebhookOptions> options)
{
    public ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectAsync(context.DnsEndPoint, cancellationToken);

    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var addresses = await resolver.ResolveAsync(endpoint.Host, cancellationToken);
        var allowed = options.CurrentValue.AllowPrivateTargets ? addresses : addresses.Where(TargetAddressPolicy.IsPublic).ToArray();
        if (allowed.Length == 0)
        {
            throw new WebhookTargetRefusedException(addresses.Length == 0
                ? $"Refused: {endpoint.Host} did not resolve to any address."
                : $"Refused: {endpoint.Host} resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}, not a public address (private, loopback, link-local and cloud metadata addresses are never called).");
        }

        SocketException? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endpoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
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
}
