using System.ComponentModel.DataAnnotations;

namespace Omni.Security;

public sealed class SecretProtectionOptions
{
    public const string Section = "Omni";

    /// <summary>Base64 of 32 random bytes (AES-256). In Azure it comes from Key Vault; locally the run script makes one.</summary>
    [Required(ErrorMessage = "Omni__SecretsKey is required: base64 of 32 random bytes (openssl rand -base64 32). It encrypts stored channel secrets.")]
    public string? SecretsKey { get; set; }
}
