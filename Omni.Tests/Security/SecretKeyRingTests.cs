using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Security;

namespace Omni.Tests.Security;

/// <summary>The secrets key ring's settings, as environment variables and Key Vault references supply them, and the value format.</summary>
public sealed class SecretKeyRingTests
{
    private static readonly string K0 = NewKey();
    private static readonly string K1 = NewKey();
    private static readonly string K2 = NewKey();

    internal static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static SecretProtector Protector(params (string Key, string? Value)[] settings) =>
        Services(settings).GetRequiredService<SecretProtector>();

    private static ServiceProvider Services(params (string Key, string? Value)[] settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }

        builder.Services.AddOmniSecretProtection();
        return builder.Services.BuildServiceProvider();
    }

    private static string StartError(params (string Key, string? Value)[] settings)
    {
        using var services = Services(settings);
        return Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<SecretProtectionOptions>>().Value).Message;
    }

    [Fact]
    public void TheSingleLegacyKeyAloneStillWritesV1ValuesThatItReads()
    {
        var protector = Protector(("Omni:SecretsKey", K0));

        var value = protector.Protect("hunter2", "co/ch/password");

        Assert.StartsWith("v1.", value, StringComparison.Ordinal);
        Assert.Equal("legacy", protector.CurrentKeyId);
        Assert.Equal("hunter2", protector.Unprotect(value, "co/ch/password"));
    }

    [Fact]
    public void AV1ValueStillDecryptsOnceARingKeyIsCurrent()
    {
        var legacy = Protector(("Omni:SecretsKey", K0)).Protect("hunter2", "co/ch/password");
        var ring = Protector(("Omni:SecretsKey", K0), ("Omni:SecretsKeys:0:Id", "2026-12"), ("Omni:SecretsKeys:0:Key", K1), ("Omni:SecretsKeyCurrent", "2026-12"));

        Assert.Equal("hunter2", ring.Unprotect(legacy, "co/ch/password"));
        Assert.Equal("legacy", SecretProtector.KeyIdOf(legacy));
    }

    [Fact]
    public void NewValuesNameTheCurrentKeyIdAndOnlyThatKeyReadsThem()
    {
        var ring = Protector(("Omni:SecretsKey", K0), ("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", K1),
            ("Omni:SecretsKeys:1:Id", "k2"), ("Omni:SecretsKeys:1:Key", K2), ("Omni:SecretsKeyCurrent", "k2"));

        var value = ring.Protect("hunter2", "co/ch/password");

        Assert.StartsWith("v2.k2.", value, StringComparison.Ordinal);
        Assert.Equal("k2", SecretProtector.KeyIdOf(value));
        Assert.Equal("hunter2", ring.Unprotect(value, "co/ch/password"));
        // The same id over another key (a mistyped ring) is an authentication failure, not a wrong plaintext.
        var impostor = Protector(("Omni:SecretsKeys:0:Id", "k2"), ("Omni:SecretsKeys:0:Key", K1), ("Omni:SecretsKeyCurrent", "k2"));
        Assert.ThrowsAny<CryptographicException>(() => impostor.Unprotect(value, "co/ch/password"));
        Assert.ThrowsAny<CryptographicException>(() => ring.Unprotect(value, "co/other/password"));
    }

    [Fact]
    public void AValueUnderARetiredKeyFailsNamingTheKeyIdItNeeds()
    {
        var old = Protector(("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", K1), ("Omni:SecretsKeyCurrent", "k1")).Protect("hunter2", "co/ch/password");
        var rotated = Protector(("Omni:SecretsKeys:0:Id", "k2"), ("Omni:SecretsKeys:0:Key", K2), ("Omni:SecretsKeyCurrent", "k2"));
        var legacy = Protector(("Omni:SecretsKey", K0)).Protect("hunter2", "co/ch/password");

        var error = Assert.Throws<SecretKeyMissingException>(() => rotated.Unprotect(old, "co/ch/password"));
        Assert.Equal("k1", error.KeyId);
        Assert.Contains("key id 'k1'", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<CryptographicException>(error);
        Assert.Contains("key id 'legacy'", Assert.Throws<SecretKeyMissingException>(() => rotated.Unprotect(legacy, "co/ch/password")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRingBindsFromEnvironmentVariableNamesThatAppServiceAccepts()
    {
        // App Service setting names allow only letters, digits, '_' and '.', so the key id (with its '-') is a value.
        var prefix = "OMNITEST" + Guid.NewGuid().ToString("N")[..8] + "_";
        var variables = new Dictionary<string, string>
        {
            ["Omni__SecretsKeys__0__Id"] = "2026-12",
            ["Omni__SecretsKeys__0__Key"] = K1,
            ["Omni__SecretsKeyCurrent"] = "2026-12",
        };
        foreach (var (name, value) in variables)
        {
            Environment.SetEnvironmentVariable(prefix + name, value);
        }

        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build();
            var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddOmniSecretProtection().BuildServiceProvider();

            Assert.StartsWith("v2.2026-12.", services.GetRequiredService<SecretProtector>().Protect("x", "p"), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var name in variables.Keys)
            {
                Environment.SetEnvironmentVariable(prefix + name, null);
            }
        }
    }

    [Fact]
    public void NoKeyAtAllIsTheSameStartErrorAsBefore()
    {
        Assert.Contains("Omni__SecretsKey is required: base64 of 32 random bytes", StartError(), StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKey must decode to exactly 32 bytes", StartError(("Omni:SecretsKey", Convert.ToBase64String(new byte[16]))), StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKey is not valid base64", StartError(("Omni:SecretsKey", "not base64!")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("K1", "Omni__SecretsKeys__0__Id must be a key id of 1 to 32 characters from a-z, 0-9 and '-'")]
    [InlineData("k_1", "Omni__SecretsKeys__0__Id must be a key id")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456", "Omni__SecretsKeys__0__Id must be a key id")]
    [InlineData("legacy", "Omni__SecretsKeys__0__Id: the key id 'legacy' is reserved for Omni__SecretsKey")]
    public void ABadKeyIdIsAStartErrorNamingItsSetting(string id, string expected)
    {
        var error = StartError(("Omni:SecretsKey", K0), ("Omni:SecretsKeys:0:Id", id), ("Omni:SecretsKeys:0:Key", K1));

        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadRingKeyIsAStartErrorNamingItsSettingAndKeyIdButNotItsValue()
    {
        var shortKey = Convert.ToBase64String(new byte[31]);
        var error = StartError(("Omni:SecretsKey", K0), ("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", shortKey),
            ("Omni:SecretsKeys:1:Id", "k2"), ("Omni:SecretsKeys:1:Key", "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/omni-secrets-key-k2)"),
            ("Omni:SecretsKeys:2:Id", "k1"), ("Omni:SecretsKeys:2:Key", K2));

        Assert.Contains("Omni__SecretsKeys__0__Key (key id 'k1') must decode to exactly 32 bytes", error, StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKeys__1__Key (key id 'k2') is an unresolved Key Vault reference", error, StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKeys__2__Id: the key id 'k1' appears more than once", error, StringComparison.Ordinal);
        Assert.DoesNotContain(shortKey, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCurrentKeyIdMustBeInTheRing()
    {
        Assert.Contains("Omni__SecretsKeyCurrent is 'k3', which is not a key id in Omni__SecretsKeys (present: legacy, k1)",
            StartError(("Omni:SecretsKey", K0), ("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", K1), ("Omni:SecretsKeyCurrent", "k3")), StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKeyCurrent is required when Omni__SecretsKey is not set",
            StartError(("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", K1)), StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKeyCurrent is 'legacy', which is Omni__SecretsKey, but Omni__SecretsKey is not set",
            StartError(("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", K1), ("Omni:SecretsKeyCurrent", "legacy")), StringComparison.Ordinal);
    }

    [Fact]
    public void AnEmptySlotOfTheRingIsIgnored()
    {
        var protector = Protector(("Omni:SecretsKey", ""), ("Omni:SecretsKeys:0:Id", ""), ("Omni:SecretsKeys:0:Key", ""),
            ("Omni:SecretsKeys:1:Id", "k1"), ("Omni:SecretsKeys:1:Key", K1), ("Omni:SecretsKeyCurrent", "k1"));

        Assert.StartsWith("v2.k1.", protector.Protect("x", "p"), StringComparison.Ordinal);
        Assert.Contains("Omni__SecretsKeys__0__Key (key id 'k2') is required", StartError(("Omni:SecretsKey", K0), ("Omni:SecretsKeys:0:Id", "k2"), ("Omni:SecretsKeys:0:Key", "")), StringComparison.Ordinal);
    }
}
