using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>Voice settings (<c>Omni:Voice</c>): the caps on uploaded audio.</summary>
public sealed class VoiceOptions
{
    public const string Section = "Omni:Voice";

    /// <summary>The largest upload taken, in bytes (<c>Omni__Voice__MaxAudioBytes</c>).</summary>
    [Range(1024, 100 * 1024 * 1024)]
    public long MaxAudioBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>The longest audio taken (<c>Omni__Voice__MaxAudioDuration</c>): prompts are short, and a caller waits through them.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan MaxAudioDuration { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>The options' DataAnnotations, checked by generated code rather than by reflection, so the Native AOT package validates them as the JIT build does.</summary>
[OptionsValidator]
internal sealed partial class VoiceOptionsValidator : IValidateOptions<VoiceOptions>;
