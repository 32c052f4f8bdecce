using System.Security.Cryptography;
using System.Text;

namespace Omni.Tests.Webhooks;

/// <summary>
/// The receiver's side of Standard Webhooks, written from the published algorithm and independent of the product's
/// signer: HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the base64 part of the whsec_ secret.
/// </summary>
internal static class StandardWebhooks
{
    public static string[] Signatures(SinkRequest request) =>
        (request.Signature ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static bool Verifies(string secret, SinkRequest request, string signature)
    {
        Assert.StartsWith("whsec_", secret);
        Assert.StartsWith("v1,", signature);
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        using var hmac = new HMACSHA256(key);
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes($"{request.WebhookId}.{request.Timestamp}.{request.Body}"));
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromBase64String(signature["v1,".Length..]));
    }

    public static bool VerifiesAny(string secret, SinkRequest request) => Signatures(request).Any(s => Verifies(secret, request, s));
}
