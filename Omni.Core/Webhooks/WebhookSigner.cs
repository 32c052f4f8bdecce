using System.Security.Cryptography;
using System.Text;

namespace Omni.Webhooks;

/// <summary>
/// Standard Webhooks signatures: <c>v1,</c> + base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>, keyed with the
/// base64-decoded part of the secret after <c>whsec_</c>; one per valid secret, space-separated.
/// </summary>
internal static class WebhookSigner
{
    private const string Prefix = "whsec_";

    public static string Sign(string webhookId, long timestamp, ReadOnlySpan<byte> body, IReadOnlyList<string> secrets)
    {
        var header = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        var signed = new byte[header.Length + body.Length];
        header.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(header.Length));
        return string.Join(' ', secrets.Select(s => "v1," + Convert.ToBase64String(HMACSHA256.HashData(Key(s), signed))));
    }

    private static byte[] Key(string secret) =>
        Convert.FromBase64String(secret.StartsWith(Prefix, StringComparison.Ordinal) ? secret[Prefix.Length..] : secret);
}
