using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Omni.Security;

/// <summary>
/// Encrypts the write-only secrets a channel holds (passwords, client secrets, tokens) before they reach
/// Table Storage. AES-256-GCM; the purpose (company, channel, field) is bound as associated data, so a
/// ciphertext copied onto another channel or field does not decrypt. Values name the key that sealed them:
/// <c>v2.{keyId}.{base64}</c>, or <c>v1.{base64}</c> for the legacy key (<c>Omni__SecretsKey</c>), so the
/// key can rotate while old values stay readable (docs/operators.md, "Rotating the secrets key").
/// </summary>
public sealed class SecretProtector
{
    private const string LegacyVersion = "v1.";
    private const string RingVersion = "v2.";
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly SecretKeyRing _ring;

    public SecretProtector(IOptions<SecretProtectionOptions> options)
    {
        _ring = SecretKeyRing.Build(options.Value);
    }

    /// <summary>The key id new values are sealed with.</summary>
    public string CurrentKeyId => _ring.CurrentId;

    public string Protect(string plaintext, string purpose)
    {
        var data = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + TagSize + data.Length];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_ring.Current, TagSize);
        aes.Encrypt(nonce, data, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(purpose));
        // The legacy key keeps writing v1, which a build from before the key ring can still read after a rollback.
        var prefix = _ring.CurrentId == SecretProtectionOptions.LegacyKeyId ? LegacyVersion : $"{RingVersion}{_ring.CurrentId}.";
        return prefix + Convert.ToBase64String(output);
    }

    /// <exception cref="SecretKeyMissingException">The value's key id is not in this app's ring.</exception>
    /// <exception cref="CryptographicException">Unknown format, another purpose, another key under the same id, or tampering.</exception>
    public string Unprotect(string protectedValue, string purpose)
    {
        var (keyId, payload) = Parse(protectedValue);
        if (!_ring.TryGetKey(keyId, out var key))
        {
            throw new SecretKeyMissingException(keyId);
        }

        byte[] input;
        try
        {
            input = Convert.FromBase64String(payload);
        }
        catch (FormatException)
        {
            throw new CryptographicException("Unknown secret format.");
        }

        if (input.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("Unknown secret format.");
        }

        var plaintext = new byte[input.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(input.AsSpan(0, NonceSize), input.AsSpan(NonceSize + TagSize), input.AsSpan(NonceSize, TagSize), plaintext, Encoding.UTF8.GetBytes(purpose));
        return Encoding.UTF8.GetString(plaintext);
    }

    /// <summary>The key id a stored value names (<c>legacy</c> for <c>v1.</c>); throws on an unknown format.</summary>
    public static string KeyIdOf(string protectedValue) => Parse(protectedValue).KeyId;

    private static (string KeyId, string Payload) Parse(string protectedValue)
    {
        if (protectedValue.StartsWith(LegacyVersion, StringComparison.Ordinal))
        {
            return (SecretProtectionOptions.LegacyKeyId, protectedValue[LegacyVersion.Length..]);
        }

        var dot = protectedValue.IndexOf('.', RingVersion.Length);
        return protectedValue.StartsWith(RingVersion, StringComparison.Ordinal) && dot > RingVersion.Length
            ? (protectedValue[RingVersion.Length..dot], protectedValue[(dot + 1)..])
            : throw new CryptographicException("Unknown secret format.");
    }
}
