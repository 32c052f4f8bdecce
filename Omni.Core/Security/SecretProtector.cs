using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Omni.Security;

/// <summary>
/// Encrypts the write-only secrets a channel holds (passwords, client secrets, tokens) before they reach
/// Table Storage. AES-256-GCM; the purpose (company, channel, field) is bound as associated data, so a
/// ciphertext copied onto another channel or field does not decrypt.
/// </summary>
public sealed class SecretProtector
{
    private const string Version = "v1.";
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public SecretProtector(IOptions<SecretProtectionOptions> options)
    {
        _key = ParseKey(options.Value.SecretsKey);
    }

    internal static byte[] ParseKey(string? base64)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64 ?? "");
        }
        catch (FormatException)
        {
            throw new OptionsValidationException("Omni:SecretsKey", typeof(SecretProtectionOptions), ["Omni__SecretsKey is not valid base64."]);
        }

        return key.Length == 32
            ? key
            : throw new OptionsValidationException("Omni:SecretsKey", typeof(SecretProtectionOptions), ["Omni__SecretsKey must decode to exactly 32 bytes."]);
    }

    public string Protect(string plaintext, string purpose)
    {
        var data = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + TagSize + data.Length];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, data, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(purpose));
        return Version + Convert.ToBase64String(output);
    }

    public string Unprotect(string protectedValue, string purpose)
    {
        if (!protectedValue.StartsWith(Version, StringComparison.Ordinal))
        {
            throw new CryptographicException("Unknown secret format.");
        }

        var input = Convert.FromBase64String(protectedValue[Version.Length..]);
        var plaintext = new byte[input.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(input.AsSpan(0, NonceSize), input.AsSpan(NonceSize + TagSize), input.AsSpan(NonceSize, TagSize), plaintext, Encoding.UTF8.GetBytes(purpose));
        return Encoding.UTF8.GetString(plaintext);
    }
}
