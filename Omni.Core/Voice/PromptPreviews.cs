using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;

namespace Omni.Voice;

internal enum PromptAudioStatus
{
    Found,
    NotFound,

    /// <summary>No synthesizer to speak the text with (espeak-ng missing).</summary>
    Unavailable,

    /// <summary>The synthesizer failed.</summary>
    Failed,
}

/// <summary>A prompt's audio, a 16 kHz mono 16-bit PCM WAV, or why there is none.</summary>
internal sealed record PromptAudio(PromptAudioStatus Status, Stream? Wav = null, string? Error = null);

/// <summary>
/// What callers will hear for an IVR's welcome, closed or unanswered message: the uploaded audio as stored, or the
/// text spoken by <see cref="ISpeechSynthesizer"/> and converted by <see cref="AudioConverter"/> to the same WAV the
/// uploads become. Speech is cached in the <see cref="Container"/> container under a hash of (engine, voice, text),
/// shared by every company since the same words in the same voice sound the same, so a prompt is synthesized once.
/// </summary>
internal sealed partial class PromptPreviews(IvrStore ivrs, AudioClips clips, ISpeechSynthesizer synthesizer, BlobServiceClient blobs, ILogger<PromptPreviews> logger)
{
    public const string Container = "voice-speech";

    /// <summary>Raised when what is cached changes shape (format, engine options), so older audio is not served.</summary>
    private const string CacheVersion = "1";

    // A prompt is at most IvrRules.MaxTextLength characters: minutes of speech at the slowest.
    private static readonly TimeSpan MaxSpoken = TimeSpan.FromMinutes(30);

    private readonly BlobContainerClient _cache = blobs.GetBlobContainerClient(Container);

    public async Task<PromptAudio> OpenAsync(string companyId, string ivrId, string prompt, CancellationToken cancellationToken = default)
    {
        if (await ivrs.GetAsync(companyId, ivrId, cancellationToken) is not { } ivr || Message(ivr, prompt) is not { } message)
        {
            return new(PromptAudioStatus.NotFound);
        }

        if (message.AudioId is { } audioId)
        {
            return await clips.OpenAsync(companyId, audioId, cancellationToken) is { } wav ? new(PromptAudioStatus.Found, wav) : new(PromptAudioStatus.NotFound);
        }

        return await SpeakAsync(message.Text!, message.Voice ?? IvrRules.DefaultVoice, cancellationToken);
    }

    /// <summary>The blob the speech of <paramref name="text"/> in <paramref name="voice"/> by <paramref name="engine"/> is cached in.</summary>
    public static string CacheName(string engine, string voice, string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{CacheVersion}\n{engine}\n{voice}\n{text}"))) + ".wav";

    private static IvrMessage? Message(Ivr ivr, string prompt) => prompt switch
    {
        "welcome" => ivr.Welcome,
        "closed" => ivr.Closed,
        "unanswered" => ivr.Unanswered,
        _ => null,
    };

    private async Task<PromptAudio> SpeakAsync(string text, string voice, CancellationToken cancellationToken)
    {
        var blob = _cache.GetBlobClient(CacheName(synthesizer.Engine, voice, text));
        try
        {
            var cached = await blob.DownloadContentAsync(cancellationToken);
            return new(PromptAudioStatus.Found, cached.Value.Content.ToStream());
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // Not spoken yet.
        }

        var spoken = await synthesizer.SynthesizeAsync(text, voice, cancellationToken);
        if (spoken.Status != SynthesisStatus.Spoken)
        {
            return new(spoken.Status == SynthesisStatus.Unavailable ? PromptAudioStatus.Unavailable : PromptAudioStatus.Failed, Error: spoken.Error);
        }

        if (AudioConverter.Convert(spoken.Wav!, MaxSpoken, out var error) is not { } converted)
        {
            return new(PromptAudioStatus.Failed, Error: $"{synthesizer.Engine} answered audio that cannot be used: {error}");
        }

        // Two first previews at once both write the same bytes: either one stands.
        await blob.UploadAsync(BinaryData.FromBytes(converted.Wav), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "audio/wav" } }, cancellationToken);
        LogSpoken(synthesizer.Engine, voice, (long)converted.Duration.TotalMilliseconds);
        return new(PromptAudioStatus.Found, new MemoryStream(converted.Wav, writable: false));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Synthesized an IVR prompt with {Engine} in voice {Voice}: {DurationMs} ms, cached")]
    private partial void LogSpoken(string engine, string voice, long durationMs);
}
