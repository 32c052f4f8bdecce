using System.Net;
using System.Net.Http.Json;
using NAudio.Wave;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Voice;

/// <summary>Audio uploads checked by content and stored as 16 kHz mono 16-bit PCM WAV, with files made in the test.</summary>
public sealed class AudioTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite, new Dictionary<string, string?>
    {
        ["Omni:Voice:MaxAudioDuration"] = "00:00:05",
        ["Omni:Voice:MaxAudioBytes"] = "2000000",
    });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AStereoWavIsStoredAsSixteenKilohertzMonoSixteenBitPcm()
    {
        var tenant = await _app.TenantAsync();

        var created = await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(1.5)), "whatever.mp3", "audio/mpeg"), HttpStatusCode.Created);
        var download = await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/audio/{created["audioId"]!.GetValue<string>()}");

        Assert.Equal("wav", created["format"]!.GetValue<string>());
        Assert.InRange(created["durationMs"]!.GetValue<long>(), 1490, 1510);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("audio/wav", download.Content.Headers.ContentType?.MediaType);
        using var reader = new WaveFileReader(new MemoryStream(await download.Content.ReadAsByteArrayAsync()));
        Assert.Equal(WaveFormatEncoding.Pcm, reader.WaveFormat.Encoding);
        Assert.Equal(16000, reader.WaveFormat.SampleRate);
        Assert.Equal(1, reader.WaveFormat.Channels);
        Assert.Equal(16, reader.WaveFormat.BitsPerSample);
        Assert.InRange(reader.TotalTime.TotalMilliseconds, 1450, 1550);
        // The tone survived the conversion: not silence.
        var samples = new float[16000];
        Assert.True(reader.ToSampleProvider().Read(samples.AsSpan()) > 0);
        Assert.True(samples.Max(Math.Abs) > 0.2f);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnMp3WithOrWithoutAnId3TagIsDecodedAndStoredAsTelephonyWav(bool id3)
    {
        var tenant = await _app.TenantAsync();

        // 60 frames of 1152 samples at 44.1 kHz: 1.567 s.
        var created = await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Mp3(60, id3), "prompt.wav", "audio/wav"), HttpStatusCode.Created);
        var wav = await _app.As(tenant.ManagementKey).GetByteArrayAsync($"/api/companies/{tenant.CompanyId}/audio/{created["audioId"]!.GetValue<string>()}");

        Assert.Equal("mp3", created["format"]!.GetValue<string>());
        Assert.InRange(created["durationMs"]!.GetValue<long>(), 1450, 1600);
        using var reader = new WaveFileReader(new MemoryStream(wav));
        Assert.Equal(new WaveFormat(16000, 16, 1), reader.WaveFormat);
        Assert.InRange(reader.TotalTime.TotalMilliseconds, 1400, 1650);
    }

    [Fact]
    public async Task AFileThatIsNeitherMp3NorWavIsRefusedWhateverItsName()
    {
        var tenant = await _app.TenantAsync();

        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, "not audio at all, just text"u8.ToArray(), "song.mp3", "audio/mpeg"), "file");
        // RIFF but not WAVE (an AVI header), and a frame sync with a reserved layer.
        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, [.. "RIFF"u8, 0, 0, 0, 0, .. "AVI LIST"u8], "a.wav"), "file");
        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, [0xFF, 0xF9, 0x90, 0xC0, .. new byte[400]], "a.mp3"), "file");
    }

    [Fact]
    public async Task AWavWhoseSamplesAreNotPcmIsRefused()
    {
        var tenant = await _app.TenantAsync();
        var output = new MemoryStream();
        using (var writer = new WaveFileWriter(output, WaveFormat.CreateIeeeFloatWaveFormat(16000, 1)))
        {
            writer.WriteSamples(new float[1600], 0, 1600);
        }

        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, output.ToArray(), "float.wav"), "file");
    }

    [Fact]
    public async Task ADamagedWavIsRefused()
    {
        var tenant = await _app.TenantAsync();
        var wav = VoiceArrange.Wav(TimeSpan.FromSeconds(0.5));

        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, wav[..30], "cut.wav"), "file");
    }

    [Fact]
    public async Task AudioLongerThanTheCapIsRefused()
    {
        var tenant = await _app.TenantAsync();

        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(6), 8000, 1)), "file");
        // About 7 s of MP3 frames.
        await NumberTests.AssertProblemAsync(await _app.UploadAsync(tenant, VoiceArrange.Mp3(270)), "file");
    }

    [Fact]
    public async Task AFileOverTheSizeCapIsRefused()
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.UploadAsync(tenant, new byte[2_100_000]);

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AnUploadThatIsNotMultipartOrHasNoFileFieldIsRefused()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);

        var json = await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/audio", new { file = "x" });
        var otherField = await client.PostAsync($"/api/companies/{tenant.CompanyId}/audio",
            new MultipartFormDataContent { { new ByteArrayContent(VoiceArrange.Wav(TimeSpan.FromSeconds(0.2))), "audio", "a.wav" } });
        var broken = new ByteArrayContent("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc"u8.ToArray());
        broken.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=x");
        var truncated = await client.PostAsync($"/api/companies/{tenant.CompanyId}/audio", broken);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        await NumberTests.AssertProblemAsync(otherField, "file");
        Assert.Equal(HttpStatusCode.BadRequest, truncated.StatusCode);
        Assert.Equal("application/problem+json", truncated.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AnAudioIsDeletedAndThenNotFound()
    {
        var tenant = await _app.TenantAsync();
        var created = await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(0.3))), HttpStatusCode.Created);
        var url = $"/api/companies/{tenant.CompanyId}/audio/{created["audioId"]!.GetValue<string>()}";

        Assert.Equal(HttpStatusCode.NoContent, (await _app.As(tenant.ManagementKey).DeleteAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(tenant.ManagementKey).GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(tenant.ManagementKey).DeleteAsync(url)).StatusCode);
    }
}
