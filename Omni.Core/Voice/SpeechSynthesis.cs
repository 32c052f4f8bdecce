namespace Omni.Voice;

internal enum SynthesisStatus
{
    Spoken,

    /// <summary>The synthesizer is not there (espeak-ng not installed): the operator's to fix.</summary>
    Unavailable,

    /// <summary>It was there and failed: an error answer, a crash, a timeout.</summary>
    Failed,
}

/// <summary>What a synthesis came to: the audio (a WAV of the synthesizer's own format) or why there is none.</summary>
internal sealed record Synthesis(SynthesisStatus Status, byte[]? Wav = null, string? Error = null)
{
    public static Synthesis Spoken(byte[] wav) => new(SynthesisStatus.Spoken, wav);

    public static Synthesis Unavailable(string error) => new(SynthesisStatus.Unavailable, Error: error);

    public static Synthesis Failed(string error) => new(SynthesisStatus.Failed, Error: error);
}

/// <summary>The text-to-speech seam: Azure AI Speech in Azure, espeak-ng locally.</summary>
internal interface ISpeechSynthesizer
{
    /// <summary>Names the engine in the cache key, so audio of one engine is never served as another's.</summary>
    string Engine { get; }

    Task<Synthesis> SynthesizeAsync(string text, string voice, CancellationToken cancellationToken = default);
}

/// <summary>What a neural voice name (<c>pt-BR-FranciscaNeural</c>) says about its language.</summary>
internal static class VoiceNames
{
    /// <summary>The locale the name starts with (<c>pt-BR</c>); the platform's default when it has none.</summary>
    public static string Locale(string voice) =>
        voice.Split('-') is { Length: >= 3 } parts ? $"{parts[0]}-{parts[1]}" : "pt-BR";
}
