using System.Security.Cryptography;

namespace Omni.Security;

/// <summary>
/// A stored secret names a key id this app's ring does not hold (a key removed too early, or a row from another
/// environment). A <see cref="CryptographicException"/>, so every caller that already treats an undecryptable
/// secret as "save it again" keeps doing so; the message says which key would read it.
/// </summary>
public sealed class SecretKeyMissingException(string keyId)
    : CryptographicException($"The secret was encrypted under key id '{keyId}', which is not in this app's secrets key ring: add that key back to Omni__SecretsKeys (or Omni__SecretsKey for '{SecretProtectionOptions.LegacyKeyId}') to read it, or save the secret again.")
{
    public string KeyId { get; } = keyId;
}
