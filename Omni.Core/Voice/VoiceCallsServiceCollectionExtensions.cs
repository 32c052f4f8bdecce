using Azure.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

public static class VoiceCallsServiceCollectionExtensions
{
    /// <summary>Calls over ACS Call Automation (docs/voice.md): the events endpoint's and callbacks' workflows, the REST client.</summary>
    public static IServiceCollection AddVoiceCalls(this IServiceCollection services)
    {
        services.AddOptions<AcsOptions>().BindConfiguration(VoiceOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AcsOptions>, AcsOptionsValidator>();
        services.AddSingleton<IValidateOptions<AcsOptions>, AcsOptionsMessages>();
        services.AddHttpClient(AcsCallAutomation.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
        // The app's own identity (its user-assigned managed identity in Azure, named by its client id); a test puts its own first.
        services.TryAddSingleton(sp => new AcsCredential(
            sp.GetRequiredService<IOptions<AcsOptions>>().Value.AcsClientId is { Length: > 0 } clientId
                ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
                : new DefaultAzureCredential()));
        services.AddSingleton<AcsCallAutomation>();
        services.AddSingleton<CallStateStore>();
        services.AddSingleton<CallPrompts>();
        services.AddSingleton<CallActions>();
        services.AddSingleton<VoiceCalls>();
        return services;
    }

    /// <summary>Checked at start, naming the one setting that is wrong.</summary>
    private sealed class AcsOptionsMessages : IValidateOptions<AcsOptions>
    {
        public ValidateOptionsResult Validate(string? name, AcsOptions options) =>
            AcsOptions.Check(options) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
