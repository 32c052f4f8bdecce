using System.Security.Cryptography;
using System.Text;

namespace Omni.Security;

/// <summary>
/// Keys are 256-bit random values, so a single SHA-256 is a safe one-way lookup key; a slow password
/// hash would only add latency to every authenticated call.
/// </summary>
public static class TokenHash
{
    public static string Of(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>
    /// Compares two secrets without telling, by time, where they differ or how long the expected one is: both are
    /// hashed to 32 bytes first, since comparing the raw bytes returns at once when the lengths differ.
    /// </summary>
    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(ComparisonDigest(a), ComparisonDigest(b));

    /// <summary>What <see cref="FixedTimeEquals"/> compares: the same size whatever the input.</summary>
    internal static byte[] ComparisonDigest(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));

    /// <summary>URL-safe random token with a readable kind prefix (omni_mk_…, omni_ck_…, whsec_ is separate).</summary>
    public static string NewToken(string prefix) => prefix + Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Base64UrlEncode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
