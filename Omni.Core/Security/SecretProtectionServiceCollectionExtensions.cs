using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Omni.Security;

public static class SecretProtectionServiceCollectionExtensions
{
    /// <summary>The secrets key ring (validated at start), and the protector that uses it.</summary>
    public static IServiceCollection AddOmniSecretProtection(this IServiceCollection services)
    {
        services.AddOptions<SecretProtectionOptions>().BindConfiguration(SecretProtectionOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecretProtectionOptions>, SecretKeyRingValidation>();
        services.AddSingleton<SecretProtector>();
        return services;
    }

    private sealed class SecretKeyRingValidation : IValidateOptions<SecretProtectionOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecretProtectionOptions options)
        {
            var errors = new List<string>();
            return SecretKeyRing.TryBuild(options, errors) is null ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
        }
    }
}
