using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>
/// Text-to-speech for IVR prompt previews (<c>Omni:Voice</c>, docs/voice.md): Azure AI Speech when
/// <see cref="SpeechEndpoint"/> is set, else espeak-ng on this machine.
/// </summary>
public sealed class SpeechOptions
{
    /// <summary>
    /// The Speech resource's text-to-speech base (<c>Omni__Voice__SpeechEndpoint</c>): <c>https://brazilsouth.tts.speech.microsoft.com</c>,
    /// or <c>https://{custom-domain}.cognitiveservices.azure.com/tts</c> for Entra ID; <c>/cognitiveservices/v1</c> is appended.
    /// </summary>
    public Uri? SpeechEndpoint { get; set; }

    /// <summary>The resource key (<c>Omni__Voice__SpeechKey</c>); unset, the app's managed identity is used.</summary>
    public string? SpeechKey { get; set; }

    /// <summary>The client id of the user-assigned identity that holds Cognitive Services Speech User (<c>Omni__Voice__SpeechClientId</c>).</summary>
    public string? SpeechClientId { get; set; }

    /// <summary>The espeak-ng program (<c>Omni__Voice__EspeakPath</c>): a name looked up on the PATH, or a full path.</summary>
    [Required]
    public string EspeakPath { get; set; } = "espeak-ng";

    /// <summary>How long one synthesis may take (<c>Omni__Voice__SpeechTimeout</c>) before the preview is a 502.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan SpeechTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The options' DataAnnotations, checked by generated code rather than by reflection, so the Native AOT package validates them as the JIT build does.</summary>
[OptionsValidator]
internal sealed partial class SpeechOptionsValidator : IValidateOptions<SpeechOptions>;
