using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using NAudio.Wave;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Voice;

/// <summary>Numbers, audio files and IVR bodies for the voice tests, arranged through the public API.</summary>
internal static class VoiceArrange
{
    /// <summary>São Paulo landlines (+55 11 3xxx-xxxx) no other test run is likely to have drawn: the inventory is shared by every company.</summary>
    public static string[] SaoPauloNumbers(int count) =>
        Enumerable.Range(0, count).Select(_ => "+55113" + Random.Shared.Next(0, 10_000_000).ToString("D7", System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToArray();

    public static async Task<string[]> StockAsync(this OmniApp app, int count = 1)
    {
        var numbers = SaoPauloNumbers(count);
        await Arrange.ReadAsync(await app.Admin().PostAsJsonAsync("/api/numbers/inventory", new { country = "BR", areaCode = "11", numbers }), HttpStatusCode.Created);
        return numbers;
    }

    /// <summary>A number of the inventory taken by the tenant for inbound calls.</summary>
    public static async Task<string> InboundNumberAsync(this OmniApp app, TestTenant tenant)
    {
        var number = (await app.StockAsync())[0];
        await Arrange.ReadAsync(await app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/numbers",
            new { number, inbound = true, outbound = true }), HttpStatusCode.Created);
        return number;
    }

    /// <summary>A valid IVR body for the number, open on weekdays in São Paulo, its menu sending 1 to the tenant's service.</summary>
    public static JsonObject IvrBody(TestTenant tenant, string number, string? audioId = null) => new()
    {
        ["name"] = "URA principal",
        ["country"] = "BR",
        ["areaCode"] = "11",
        ["number"] = number,
        ["schedule"] = new JsonObject
        {
            ["alwaysOpen"] = false,
            ["timeZone"] = "America/Sao_Paulo",
            ["days"] = new JsonArray(
                new JsonObject { ["day"] = "monday", ["open"] = "08:00", ["close"] = "12:00" },
                new JsonObject { ["day"] = "monday", ["open"] = "13:00", ["close"] = "18:00" },
                new JsonObject { ["day"] = "friday", ["open"] = "08:00", ["close"] = "24:00" }),
            ["holidays"] = new JsonArray(new JsonObject { ["date"] = "2026-12-25", ["closed"] = true }),
        },
        ["welcome"] = audioId is null ? new JsonObject { ["text"] = "Bem-vindo à Acme.", ["voice"] = "pt-BR-FranciscaNeural" } : new JsonObject { ["audioId"] = audioId },
        ["closed"] = new JsonObject { ["text"] = "Estamos fechados." },
        ["unanswered"] = new JsonObject { ["text"] = "Ninguém pôde atender.", ["voice"] = "pt-BR-AntonioNeural" },
        ["menu"] = new JsonArray(new JsonObject { ["digit"] = "1", ["serviceId"] = tenant.ServiceId }),
    };

    /// <summary>A real PCM WAV written by NAudio: a 440 Hz tone.</summary>
    public static byte[] Wav(TimeSpan duration, int sampleRate = 44100, int channels = 2, int bits = 16)
    {
        var output = new MemoryStream();
        using (var writer = new WaveFileWriter(output, new WaveFormat(sampleRate, bits, channels)))
        {
            var frames = (int)(duration.TotalSeconds * sampleRate);
            var frame = new float[channels];
            for (var i = 0; i < frames; i++)
            {
                Array.Fill(frame, (float)(0.5 * Math.Sin(2 * Math.PI * 440 * i / sampleRate)));
                writer.WriteSamples(frame, 0, channels);
            }
        }

        return output.ToArray();
    }

    /// <summary>
    /// A valid MP3 built frame by frame, since no encoder is on the registry or this machine (no lame, ffmpeg or
    /// espeak-ng): MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono frames of 417 bytes whose side information is zero, so
    /// each decodes to 1152 samples of silence. Optionally behind an ID3v2 tag.
    /// </summary>
    public static byte[] Mp3(int frames, bool id3 = false)
    {
        var output = new MemoryStream();
        if (id3)
        {
            // "ID3", version 2.3, no flags, a syncsafe size of 20, then 20 bytes of padding.
            output.Write([(byte)'I', (byte)'D', (byte)'3', 3, 0, 0, 0, 0, 0, 20]);
            output.Write(new byte[20]);
        }

        for (var i = 0; i < frames; i++)
        {
            var frame = new byte[417];
            frame[0] = 0xFF;
            frame[1] = 0xFB; // sync, MPEG-1, layer III, no CRC
            frame[2] = 0x90; // 128 kbit/s, 44.1 kHz, no padding
            frame[3] = 0xC0; // mono
            output.Write(frame);
        }

        return output.ToArray();
    }

    public static async Task<HttpResponseMessage> UploadAsync(this OmniApp app, TestTenant tenant, byte[] file, string fileName = "audio.bin", string contentType = "application/octet-stream")
    {
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var form = new MultipartFormDataContent { { part, "file", fileName } };
        return await app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/audio", form);
    }
}
