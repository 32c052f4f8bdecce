using NAudio.Wave;
using NAudio.Wave.SampleProviders;
using NLayer;

namespace Omni.Voice;

/// <summary>What an upload turned out to be: the telephony WAV, or why it was refused.</summary>
internal sealed record ConvertedAudio(string Format, TimeSpan Duration, byte[] Wav);

/// <summary>
/// Uploads checked by their bytes, never their name or declared type: a WAV is RIFF/WAVE with PCM samples, an MP3 is
/// MPEG audio frames (after an ID3v2 tag, if any). Either is decoded and converted once to what telephony plays:
/// 16 kHz, mono, 16-bit PCM WAV. NLayer decodes MP3 (fully managed); NAudio reads WAV, mixes down and resamples.
/// </summary>
internal static class AudioConverter
{
    public const int SampleRate = 16000;
    public const string Wav = "wav";
    public const string Mp3 = "mp3";

    /// <summary>The WAV, or null with <paramref name="error"/> saying what is wrong with the file.</summary>
    public static ConvertedAudio? Convert(byte[] file, TimeSpan maxDuration, out string error)
    {
        error = "";
        var format = Sniff(file);
        if (format is null)
        {
            error = "Not an mp3 or wav file: a WAV starts with RIFF/WAVE, an MP3 with an ID3 tag or an MPEG audio frame.";
            return null;
        }

        try
        {
            var (samples, duration) = format == Wav ? ReadWav(file, out error) : ReadMp3(file, maxDuration, out error);
            if (samples is null)
            {
                return null;
            }

            if (duration > maxDuration)
            {
                error = $"The audio lasts {duration.TotalSeconds:0.#} s; at most {maxDuration.TotalSeconds:0} s are taken.";
                return null;
            }

            return new ConvertedAudio(format, duration, ToTelephonyWav(samples));
        }
        // NLayer and NAudio report a damaged stream with assorted exceptions (format, index, end of stream); every one
        // of them means the same to the uploader.
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IndexOutOfRangeException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            error = $"The {format} file cannot be decoded: it is damaged or uses an encoding that is not supported.";
            return null;
        }
    }

    private static string? Sniff(ReadOnlySpan<byte> file)
    {
        if (file.Length >= 12 && file[..4].SequenceEqual("RIFF"u8) && file[8..12].SequenceEqual("WAVE"u8))
        {
            return Wav;
        }

        var start = 0;
        if (file.Length >= 10 && file[..3].SequenceEqual("ID3"u8))
        {
            // ID3v2: a 10-byte header whose size is four 7-bit bytes ("syncsafe"), then the first frame.
            start = 10 + ((file[6] & 0x7F) << 21 | (file[7] & 0x7F) << 14 | (file[8] & 0x7F) << 7 | (file[9] & 0x7F));
        }

        return file.Length >= start + 4 && IsFrameHeader(file[start..]) ? Mp3 : null;
    }

    /// <summary>An MPEG audio frame header: 11 sync bits, a known version and layer, a bitrate and a sample rate that exist.</summary>
    private static bool IsFrameHeader(ReadOnlySpan<byte> h) =>
        h[0] == 0xFF && (h[1] & 0xE0) == 0xE0
        && (h[1] >> 3 & 0x3) != 1 // version 01 is reserved
        && (h[1] >> 1 & 0x3) != 0 // layer 00 is reserved
        && (h[2] >> 4) is not (0 or 0xF) // free-format and "bad" bitrates
        && (h[2] >> 2 & 0x3) != 3; // sample rate 11 is reserved

    private static (ISampleProvider? Samples, TimeSpan Duration) ReadWav(byte[] file, out string error)
    {
        error = "";
        var reader = new WaveFileReader(new MemoryStream(file, writable: false));
        var wave = reader.WaveFormat;
        if (wave.Encoding != WaveFormatEncoding.Pcm || wave.BitsPerSample is not (8 or 16 or 24 or 32) || wave.Channels is not (1 or 2))
        {
            error = $"The WAV must hold PCM samples (8, 16, 24 or 32 bits, mono or stereo); this one is {wave.Encoding}, {wave.BitsPerSample} bits, {wave.Channels} channels.";
            return (null, default);
        }

        return (reader.ToSampleProvider(), reader.TotalTime);
    }

    private static (ISampleProvider? Samples, TimeSpan Duration) ReadMp3(byte[] file, TimeSpan maxDuration, out string error)
    {
        error = "";
        using var mpeg = new MpegFile(new MemoryStream(file, writable: false));
        var rate = mpeg.SampleRate;
        var channels = mpeg.Channels;
        if (rate <= 0 || channels is not (1 or 2))
        {
            error = "The MP3 has no audio frames that can be decoded.";
            return (null, default);
        }

        // Decoded whole (it is at most the duration cap), stopping as soon as the cap is passed.
        var limit = (long)((maxDuration.TotalSeconds + 1) * rate * channels);
        var samples = new List<float>();
        var buffer = new float[4096 * channels];
        int read;
        while ((read = mpeg.ReadSamples(buffer, 0, buffer.Length)) > 0 && samples.Count <= limit)
        {
            samples.AddRange(buffer.AsSpan(0, read));
        }

        if (samples.Count == 0)
        {
            error = "The MP3 has no audio frames that can be decoded.";
            return (null, default);
        }

        var format = WaveFormat.CreateIeeeFloatWaveFormat(rate, channels);
        var bytes = new byte[samples.Count * sizeof(float)];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(samples)).CopyTo(bytes);
        var duration = TimeSpan.FromSeconds((double)samples.Count / channels / rate);
        return (new RawSourceWaveStream(bytes, 0, bytes.Length, format).ToSampleProvider(), duration);
    }

    private static byte[] ToTelephonyWav(ISampleProvider samples)
    {
        if (samples.WaveFormat.Channels == 2)
        {
            samples = new StereoToMonoSampleProvider(samples);
        }

        if (samples.WaveFormat.SampleRate != SampleRate)
        {
            samples = new WdlResamplingSampleProvider(samples, SampleRate);
        }

        var output = new MemoryStream();
        WaveFileWriter.WriteWavFileToStream(output, new SampleToWaveProvider16(samples));
        return output.ToArray();
    }
}
