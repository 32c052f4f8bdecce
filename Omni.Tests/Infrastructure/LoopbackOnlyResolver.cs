using System.Net;
using Omni.Security;

namespace Omni.Tests.Infrastructure;

/// <summary>
/// The resolver of every outbound connection (webhooks, mail) in every test app: <c>localhost</c> and names under <c>.test</c> are 127.0.0.1,
/// loopback literals are themselves, and anything else is refused, so no test ever connects off this machine.
/// </summary>
internal sealed class LoopbackOnlyResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken = default)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal) && IPAddress.IsLoopback(literal))
        {
            return Task.FromResult(new[] { literal });
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".test", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(new[] { IPAddress.Loopback });
        }

        throw new TargetRefusedException(host, [], $"Tests never resolve '{host}': use 127.0.0.1, localhost or a .test name.");
    }
}
