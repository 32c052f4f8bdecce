using System.Net;
using System.Net.Sockets;

namespace Omni.Webhooks;

/// <summary>
/// Which addresses a webhook may reach. Checked when a URL is saved (literal IPs) and again on the address
/// actually connected to, so a name that resolves somewhere private later (DNS rebinding) cannot slip past.
/// </summary>
public static class TargetAddressPolicy
{
    private static readonly IPAddress AzureMetadata = IPAddress.Parse("169.254.169.254");
    private static readonly IPAddress AzureHost = IPAddress.Parse("168.63.129.16");

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.Equals(AzureMetadata) || address.Equals(AzureHost) || IPAddress.IsLoopback(address))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0
                || b[0] == 10
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) // carrier-grade NAT
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
                || b[0] >= 224);
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return !(address.Equals(IPAddress.IPv6None)
                || address.IsIPv6LinkLocal
                || address.IsIPv6SiteLocal
                || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc); // unique local fc00::/7
        }

        return false;
    }

    /// <summary>Checks a webhook URL when it is saved: an absolute https URL whose literal IP, if any, is public.</summary>
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
