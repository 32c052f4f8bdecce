using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Voice;

public static class VoiceServiceCollectionExtensions
{
    /// <summary>Numbers, audio, IVRs and call records (docs/voice.md); the calls themselves are <see cref="VoiceCallsServiceCollectionExtensions.AddVoiceCalls"/>.</summary>
    public static IServiceCollection AddOmniVoice(this IServiceCollection services)
    {
        services.AddStorageResources(
            tables: [VoiceStorage.InventoryTable, VoiceStorage.SetupTable, VoiceStorage.CallsTable],
            containers: [VoiceStorage.AudioContainer]);
        services.AddOptions<VoiceOptions>().BindConfiguration(VoiceOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<VoiceOptions>, VoiceOptionsValidator>();
        services.AddSingleton<NumberInventory>();
        services.AddSingleton<CompanyNumbers>();
        services.AddSingleton<AudioClips>();
        services.AddSingleton<IvrStore>();
        services.AddSingleton<Ivrs>();
        services.AddSingleton<CallRecords>();
        services.AddOmniVoiceSpeech();
        return services;
    }
}
