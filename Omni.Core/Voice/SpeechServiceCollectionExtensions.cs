using Azure.Identity;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Voice;

public static class SpeechServiceCollectionExtensions
{
    /// <summary>IVR prompt previews: Azure AI Speech when <c>Omni__Voice__SpeechEndpoint</c> is set, espeak-ng otherwise (docs/voice.md).</summary>
    public static IServiceCollection AddOmniVoiceSpeech(this IServiceCollection services)
    {
        services.AddStorageResources(containers: [PromptPreviews.Container]);
        services.AddOptions<SpeechOptions>().BindConfiguration(VoiceOptions.Section)
            .Validate(o => o.SpeechEndpoint is null || (o.SpeechEndpoint.IsAbsoluteUri && o.SpeechEndpoint.Scheme == Uri.UriSchemeHttps),
                "Omni__Voice__SpeechEndpoint must be an absolute https URL such as https://brazilsouth.tts.speech.microsoft.com.")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SpeechOptions>, SpeechOptionsValidator>();
        services.AddHttpClient(AzureSpeechSynthesizer.HttpClientName);
        // The app's own identity (its user-assigned managed identity in Azure, named by its client id); a test puts its own first.
        services.TryAddSingleton(sp => new SpeechCredential(
            sp.GetRequiredService<IConfiguration>()[$"{VoiceOptions.Section}:SpeechClientId"] is { Length: > 0 } clientId
                ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
                : new DefaultAzureCredential()));
        services.AddSingleton<AzureSpeechSynthesizer>();
        services.AddSingleton<EspeakSynthesizer>();
        services.AddSingleton<ISpeechSynthesizer>(sp => sp.GetRequiredService<IOptions<SpeechOptions>>().Value.SpeechEndpoint is null
            ? sp.GetRequiredService<EspeakSynthesizer>()
            : sp.GetRequiredService<AzureSpeechSynthesizer>());
        services.AddSingleton<PromptPreviews>();
        return services;
    }
}
