using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Omni.Security;

/// <summary>
/// The AES-256 keys this app can decrypt with, by key id, and the one it encrypts with. Built from
/// <see cref="SecretProtectionOptions"/>; every rule failure names the setting to fix, and start-up fails on any.
/// </summary>
internal sealed partial class SecretKeyRing
{
    private const string UnresolvedKeyVaultReference = "@Microsoft.KeyVault(";
    private readonly Dictionary<string, byte[]> _keys;

    private SecretKeyRing(Dictionary<string, byte[]> keys, string currentId)
    {
        _keys = keys;
        CurrentId = currentId;
    }

    public string CurrentId { get; }

    public byte[] Current => _keys[CurrentId];

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    public bool TryGetKey(string keyId, out byte[] key) => _keys.TryGetValue(keyId, out key!);

    public static SecretKeyRing Build(SecretProtectionOptions options)
    {
        var errors = new List<string>();
        var ring = TryBuild(options, errors);
        return ring ?? throw new OptionsValidationException(SecretProtectionOptions.Section, typeof(SecretProtectionOptions), errors);
    }

    /// <summary>The ring, or null with <paramref name="errors"/> filled.</summary>
    public static SecretKeyRing? TryBuild(SecretProtectionOptions options, List<string> errors)
    {
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(options.SecretsKey) && ParseKey("Omni__SecretsKey", options.SecretsKey, errors) is { } legacy)
        {
            keys[SecretProtectionOptions.LegacyKeyId] = legacy;
        }

        for (var i = 0; i < options.SecretsKeys.Count; i++)
        {
            AddEntry(keys, ids, i, options.SecretsKeys[i], errors);
        }

        var current = string.IsNullOrWhiteSpace(options.SecretsKeyCurrent) ? SecretProtectionOptions.LegacyKeyId : options.SecretsKeyCurrent;
        if (errors.Count == 0 && !keys.ContainsKey(current))
        {
            errors.Add(CurrentMissing(options, current, keys.Keys));
        }

        return errors.Count == 0 ? new SecretKeyRing(keys, current) : null;
    }

    private static void AddEntry(Dictionary<string, byte[]> keys, HashSet<string> ids, int index, SecretKeyEntry entry, List<string> errors)
    {
        var setting = $"Omni__SecretsKeys__{index}";
        if (string.IsNullOrWhiteSpace(entry.Id) && string.IsNullOrWhiteSpace(entry.Key))
        {
            // An unused slot: the Bicep template always writes a fixed number of them, empty when unused.
            return;
        }

        if (string.IsNullOrWhiteSpace(entry.Id) || !KeyIdPattern().IsMatch(entry.Id))
        {
            errors.Add($"{setting}__Id must be a key id of 1 to 32 characters from a-z, 0-9 and '-' (it is written into every value it encrypts).");
            return;
        }

        if (entry.Id == SecretProtectionOptions.LegacyKeyId)
        {
            errors.Add($"{setting}__Id: the key id '{SecretProtectionOptions.LegacyKeyId}' is reserved for Omni__SecretsKey.");
            return;
        }

        if (!ids.Add(entry.Id))
        {
            errors.Add($"{setting}__Id: the key id '{entry.Id}' appears more than once in Omni__SecretsKeys.");
            return;
        }

        if (ParseKey($"{setting}__Key (key id '{entry.Id}')", entry.Key, errors) is { } key)
        {
            keys[entry.Id] = key;
        }
    }

    private static byte[]? ParseKey(string setting, string? base64, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            errors.Add($"{setting} is required: base64 of 32 random bytes (openssl rand -base64 32).");
            return null;
        }

        if (base64.StartsWith(UnresolvedKeyVaultReference, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{setting} is an unresolved Key Vault reference: check the secret exists and the app's identity may read it.");
            return null;
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64.Trim());
        }
        catch (FormatException)
        {
            errors.Add($"{setting} is not valid base64.");
            return null;
        }

        if (key.Length != 32)
        {
            errors.Add($"{setting} must decode to exactly 32 bytes.");
            return null;
        }

        return key;
    }

    private static string CurrentMissing(SecretProtectionOptions options, string current, IEnumerable<string> ids)
    {
        if (string.IsNullOrWhiteSpace(options.SecretsKeyCurrent))
        {
            return options.SecretsKeys.Count == 0
                ? "Omni__SecretsKey is required: base64 of 32 random bytes (openssl rand -base64 32). It encrypts stored channel secrets."
                : "Omni__SecretsKeyCurrent is required when Omni__SecretsKey is not set: the key id in Omni__SecretsKeys that new writes use.";
        }

        return current == SecretProtectionOptions.LegacyKeyId
            ? $"Omni__SecretsKeyCurrent is '{SecretProtectionOptions.LegacyKeyId}', which is Omni__SecretsKey, but Omni__SecretsKey is not set."
            : $"Omni__SecretsKeyCurrent is '{current}', which is not a key id in Omni__SecretsKeys (present: {string.Join(", ", ids)}).";
    }

    [GeneratedRegex("^[a-z0-9-]{1,32}$")]
    private static partial Regex KeyIdPattern();
}
