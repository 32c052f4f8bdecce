using System.Net;
using System.Net.Sockets;

namespace Omni.Security;

/// <summary>
/// Which addresses the app may reach on a customer's behalf (webhooks, mail servers, provider APIs). Checked when a
/// URL or host is saved (literal IPs) and again on the address actually connected to (<see cref="SafeConnector"/>),
/// so a name that resolves somewhere private later (DNS rebinding) cannot slip past.
/// </summary>
public static class TargetAddressPolicy
{
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return IsPublicV4(address.GetAddressBytes());
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            if (address.Equals(IPAddress.IPv6None)
                || address.IsIPv6LinkLocal
                || address.IsIPv6SiteLocal
                || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc) // unique local fc00::/7
            {
                return false;
            }

            // Translation and tunnel prefixes carry an IPv4 address inside: a gateway on the path would take
            // 64:ff9b::10.0.0.1 to 10.0.0.1, so the embedded address must pass the IPv4 rules too.
            return EmbeddedV4(b) is not { } embedded || embedded.All(IsPublicV4);
        }

        return false;
    }

    private static bool IsPublicV4(byte[] b) =>
        !(b[0] == 0
          || b[0] == 10
          || b[0] == 127
          || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) // carrier-grade NAT
          || (b[0] == 169 && b[1] == 254) // link-local, with the cloud metadata service at 169.254.169.254
          || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
          || (b[0] == 192 && b[1] == 168)
          || (b[0] == 192 && b[1] == 0 && b[2] == 0)
          || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
          || (b[0] == 168 && b[1] == 63 && b[2] == 129 && b[3] == 16) // Azure's host address, also when embedded
          || b[0] >= 224);

    /// <summary>The IPv4 addresses an IPv6 address stands for, if it is of a prefix that embeds one; null otherwise.</summary>
    private static byte[][]? EmbeddedV4(byte[] b)
    {
        // IPv4-compatible ::a.b.c.d (deprecated) and NAT64's well-known prefix 64:ff9b::/96: the last four bytes.
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0
            || (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0))
        {
            return [b[12..16]];
        }

        // Local-use NAT64 64:ff9b:1::/48 (RFC 8215) only ever leads into a private network: nothing in it is public.
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01)
        {
            return [[0, 0, 0, 0]];
        }

        // 6to4 2002:AABB:CCDD::/48 routes to the IPv4 AA.BB.CC.DD.
        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return [b[2..6]];
        }

        // Teredo 2001:0000::/32: the server's IPv4 in bytes 4-7, the client's in the last four, inverted.
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00)
        {
            return [b[4..8], b[12..16].Select(x => (byte)~x).ToArray()];
        }

        return null;
    }

    /// <summary>Checks a URL when it is saved: an absolute https URL whose literal IP, if any, is public.</summary>
    public static string? ValidateUrl(string value, bool allowPrivateTargets)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return "Must be an absolute https URL.";
        }

        if (allowPrivateTargets)
        {
            return null;
        }

        if (uri.Scheme != Uri.UriSchemeHttps)
        {
            return "Must use https.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "Must not carry credentials in the URL.";
        }

        if (uri.IsLoopback || uri.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return "Must not point at this host.";
        }

        return IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var ip) && !IsPublic(ip)
            ? "Must not point at a private, loopback, link-local or cloud metadata address."
            : null;
    }
}
