namespace Omni.Security;

/// <summary>
/// The keys that encrypt stored channel secrets. <see cref="SecretsKey"/> is the original single key (key id
/// <see cref="LegacyKeyId"/>, the one behind every <c>v1.</c> value); <see cref="SecretsKeys"/> is the ring that
/// rotation adds to, and <see cref="SecretsKeyCurrent"/> names the key new writes use. Rules: SecretKeyRing.
/// </summary>
public sealed class SecretProtectionOptions
{
    public const string Section = "Omni";

    /// <summary>The key id of <see cref="SecretsKey"/>; reserved, so no ring entry can take it.</summary>
    public const string LegacyKeyId = "legacy";

    /// <summary>Base64 of 32 random bytes (AES-256). In Azure it comes from Key Vault; locally the run script makes one.</summary>
    public string? SecretsKey { get; set; }

    /// <summary>
    /// <c>Omni__SecretsKeys__{n}__Id</c> and <c>Omni__SecretsKeys__{n}__Key</c>: the key id travels in the value, not in
    /// the setting's name, because App Service setting names (and shell variables) cannot hold the dash a key id may.
    /// An entry with neither is an unused slot.
    /// </summary>
    public List<SecretKeyEntry> SecretsKeys { get; set; } = [];

    /// <summary>The key id new writes use; when unset, <see cref="LegacyKeyId"/>.</summary>
    public string? SecretsKeyCurrent { get; set; }
}

/// <summary>One key of the ring: its id (<c>[a-z0-9-]{1,32}</c>, stored in each value it encrypts) and base64 of 32 bytes.</summary>
public sealed class SecretKeyEntry
{
    public string? Id { get; set; }

    public string? Key { get; set; }
}
