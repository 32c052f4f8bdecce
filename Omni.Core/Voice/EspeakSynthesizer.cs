using System.Buffers.Binary;
using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>
/// espeak-ng from Debian, the local text-to-speech when no Azure AI Speech endpoint is set: run as a process with its
/// arguments in an argument list (no shell) and the text on stdin (never on the command line, where a text starting
/// with '-' would be an option), bounded by <see cref="SpeechOptions.SpeechTimeout"/> and the caller's cancellation.
/// </summary>
internal sealed partial class EspeakSynthesizer(IOptions<SpeechOptions> options, ILogger<EspeakSynthesizer> logger) : ISpeechSynthesizer
{
    private const int WavHeaderBytes = 44;

    // Azure's Portuguese (and a few other common) female voices, so a female prompt is previewed in a female voice.
    private static readonly HashSet<string> FemaleNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "Francisca", "Brenda", "Elza", "Giovanna", "Leila", "Leticia", "Manuela", "Thalita", "Yara", "Raquel", "Fernanda",
        "Ava", "Jenny", "Aria", "Emma", "Sonia", "Libby", "Elvira", "Dalia", "Denise", "Katja", "Elsa", "Isabella",
    };

    private static readonly Dictionary<string, string> Languages = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pt-BR"] = "pt-br", ["pt-PT"] = "pt", ["en-GB"] = "en-gb", ["es-ES"] = "es",
        ["pt"] = "pt-br", ["en"] = "en-us", ["es"] = "es-419", ["fr"] = "fr", ["de"] = "de", ["it"] = "it",
    };

    public string Engine => "espeak-ng";

    /// <summary>The espeak-ng voice for a neural voice name: its language (Brazilian Portuguese when unknown), and a female variant for a female name.</summary>
    public static string EspeakVoice(string voice)
    {
        var locale = VoiceNames.Locale(voice);
        var language = Languages.GetValueOrDefault(locale) ?? Languages.GetValueOrDefault(locale.Split('-')[0]) ?? "pt-br";
        var name = voice.Split('-').Skip(2).FirstOrDefault() ?? "";
        name = name.Split(':')[0].Replace("Multilingual", "", StringComparison.Ordinal).Replace("Neural", "", StringComparison.Ordinal);
        return FemaleNames.Contains(name) ? language + "+f3" : language;
    }

    public async Task<Synthesis> SynthesizeAsync(string text, string voice, CancellationToken cancellationToken = default)
    {
        var program = options.Value.EspeakPath;
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // -b 1: the input is UTF-8; --stdin: the text comes on stdin; --stdout: the WAV goes to stdout.
        foreach (var argument in new[] { "-v", EspeakVoice(voice), "-b", "1", "--stdin", "--stdout" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception)
        {
            LogMissing(program);
            return Synthesis.Unavailable($"espeak-ng is not installed ('{program}' cannot be run): install it (apt-get install espeak-ng), "
                + "set Omni__Voice__EspeakPath to it, or set Omni__Voice__SpeechEndpoint to use Azure AI Speech.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.SpeechTimeout);
        try
        {
            var output = new MemoryStream();
            var reading = process.StandardOutput.BaseStream.CopyToAsync(output, timeout.Token);
            var errors = process.StandardError.ReadToEndAsync(timeout.Token);
            await using (var input = process.StandardInput.BaseStream)
            {
                await input.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), timeout.Token);
            }

            await Task.WhenAll(reading, errors);
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0 || output.Length <= WavHeaderBytes)
            {
                var detail = (await errors).Trim();
                LogFailed(process.ExitCode, detail);
                return Synthesis.Failed($"espeak-ng failed (exit code {process.ExitCode}){(detail.Length > 0 ? ": " + detail : "")}.");
            }

            return FixStreamedHeader(output.ToArray()) is { } wav ? Synthesis.Spoken(wav) : Synthesis.Failed("espeak-ng wrote something that is not a WAV.");
        }
        catch (OperationCanceledException)
        {
            Stop(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return Synthesis.Failed($"espeak-ng did not finish within {options.Value.SpeechTimeout.TotalSeconds:0} s.");
        }
        catch (IOException e)
        {
            // The process died while we wrote its text or read its audio.
            return Synthesis.Failed($"espeak-ng stopped early: {e.Message}");
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited on its own in the meantime.
        }
    }

    /// <summary>
    /// A WAV streamed to stdout cannot know its length when its header is written, so espeak-ng puts a placeholder
    /// there; the sizes are set from what arrived (its header is the canonical 44 bytes: RIFF, fmt, data).
    /// </summary>
    private static byte[]? FixStreamedHeader(byte[] wav)
    {
        var span = wav.AsSpan();
        if (!span[..4].SequenceEqual("RIFF"u8) || !span[8..12].SequenceEqual("WAVE"u8) || !span[36..40].SequenceEqual("data"u8))
        {
            return null;
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[4..8], wav.Length - 8);
        BinaryPrimitives.WriteInt32LittleEndian(span[40..44], wav.Length - WavHeaderBytes);
        return wav;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "espeak-ng cannot be run from {Program}: IVR prompts cannot be previewed without it")]
    private partial void LogMissing(string program);

    [LoggerMessage(Level = LogLevel.Warning, Message = "espeak-ng exited with {ExitCode}: {Error}")]
    private partial void LogFailed(int exitCode, string error);
}
