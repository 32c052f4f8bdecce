using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using NAudio.Wave;
using Omni.Tests.Infrastructure;
using Omni.Voice;

namespace Omni.Tests.Voice;

/// <summary>IVRs and previews for the prompt preview tests, arranged through the public API.</summary>
internal static class PromptArrange
{
    /// <summary>An IVR of the tenant whose messages are the given ones (null keeps VoiceArrange's), returning its id.</summary>
    public static async Task<string> IvrAsync(this OmniApp app, TestTenant tenant, JsonObject? welcome = null, JsonObject? unanswered = null)
    {
        var body = VoiceArrange.IvrBody(tenant, await app.InboundNumberAsync(tenant));
        body["welcome"] = welcome ?? body["welcome"]!.DeepClone();
        body["unanswered"] = unanswered ?? body["unanswered"]!.DeepClone();
        var created = await Arrange.ReadAsync(await app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", body), HttpStatusCode.Created);
        return created["id"]!.GetValue<string>();
    }

    public static Task<HttpResponseMessage> PreviewAsync(this OmniApp app, TestTenant tenant, string ivrId, string prompt) =>
        app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/ivrs/{ivrId}/prompts/{prompt}/audio");

    /// <summary>The preview's WAV, after checking it is one: 200, audio/wav, RIFF/WAVE, 16 kHz mono 16-bit PCM.</summary>
    public static async Task<byte[]> TelephonyWavAsync(HttpResponseMessage response)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(bytes)}");
        Assert.Equal("audio/wav", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("RIFF"u8.ToArray(), bytes[..4]);
        Assert.Equal("WAVE"u8.ToArray(), bytes[8..12]);
        using var reader = new WaveFileReader(new MemoryStream(bytes));
        Assert.Equal(new WaveFormat(16000, 16, 1), reader.WaveFormat);
        return bytes;
    }

    public static TimeSpan Duration(byte[] wav)
    {
        using var reader = new WaveFileReader(new MemoryStream(wav));
        return reader.TotalTime;
    }
}

/// <summary>
/// The preview of what callers hear, with no Speech endpoint configured (the local default): text spoken by the real
/// espeak-ng (installed by scripts/install-speech.sh, which the test command runs) and cached in Blob; uploaded audio as stored.
/// </summary>
public sealed class PromptPreviewTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync()
    {
        // Never skipped: without espeak-ng these tests fail, saying so.
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(dir => File.Exists(Path.Combine(dir, "espeak-ng")));
        Assert.True(onPath, "espeak-ng is not installed: the prompt preview tests run it for real (scripts/install-speech.sh installs it; scripts/test.sh runs that).");
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task ATextPromptIsSpokenInPortugueseAsSixteenKilohertzMonoSixteenBitPcmOfPlausibleLength()
    {
        var tenant = await _app.TenantAsync();
        var ivrId = await _app.IvrAsync(tenant, welcome: new JsonObject { ["text"] = "Bem-vindo à Acme. Para vendas, digite um.", ["voice"] = "pt-BR-FranciscaNeural" });

        var wav = await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "welcome"));

        // Seven words and a pause: a second or more, well under ten; and speech, not silence.
        Assert.InRange(PromptArrange.Duration(wav).TotalSeconds, 1.0, 10.0);
        using var reader = new WaveFileReader(new MemoryStream(wav));
        var samples = new float[(int)(reader.SampleCount)];
        reader.ToSampleProvider().Read(samples.AsSpan());
        Assert.True(samples.Max(Math.Abs) > 0.05f);
        // The other messages are spoken too, each its own text.
        var closed = await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "closed"));
        var unanswered = await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "unanswered"));
        Assert.NotEqual(closed, unanswered);
    }

    [Fact]
    public async Task ASecondPreviewOfTheSameTextAndVoiceIsServedFromTheBlobCacheWithoutSpeakingAgain()
    {
        var tenant = await _app.TenantAsync();
        var text = $"Protocolo {Random.Shared.Next(100_000, 999_999)}.";
        var ivrId = await _app.IvrAsync(tenant, unanswered: new JsonObject { ["text"] = text, ["voice"] = "pt-BR-AntonioNeural" });

        var first = await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "unanswered"));
        var cached = new BlobServiceClient(_app.StorageConnectionString).GetBlobContainerClient(PromptPreviews.Container)
            .GetBlobClient(PromptPreviews.CacheName("espeak-ng", "pt-BR-AntonioNeural", text));
        Assert.Equal(first, (await cached.DownloadContentAsync()).Value.Content.ToArray());
        // Replace what is cached with a tone: a preview that spoke again would return speech, not the tone.
        var tone = VoiceArrange.Wav(TimeSpan.FromSeconds(0.3), sampleRate: 16000, channels: 1);
        await cached.UploadAsync(BinaryData.FromBytes(tone), overwrite: true);

        var second = await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "unanswered"));

        Assert.Equal(tone, second);
        Assert.Single(_app.Logs.Lines, l => l.Contains("Synthesized an IVR prompt", StringComparison.Ordinal) && l.Contains("pt-BR-AntonioNeural", StringComparison.Ordinal)
            && !l.Contains(text, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUploadedAudioPromptPreviewsAsTheStoredTelephonyClip()
    {
        var tenant = await _app.TenantAsync();
        var upload = await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(0.7))), HttpStatusCode.Created);
        var audioId = upload["audioId"]!.GetValue<string>();
        var ivrId = await _app.IvrAsync(tenant, welcome: new JsonObject { ["audioId"] = audioId });

        var preview = await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "welcome"));

        Assert.Equal(await _app.As(tenant.ManagementKey).GetByteArrayAsync($"/api/companies/{tenant.CompanyId}/audio/{audioId}"), preview);
    }

    [Fact]
    public async Task AnUnknownPromptKindOrIvrIsNotFound()
    {
        var tenant = await _app.TenantAsync();
        var ivrId = await _app.IvrAsync(tenant);

        Assert.Equal(HttpStatusCode.NotFound, (await _app.PreviewAsync(tenant, ivrId, "goodbye")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.PreviewAsync(tenant, ivrId, "Welcome")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.PreviewAsync(tenant, "ivr_doesnotexist00000000", "welcome")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.PreviewAsync(tenant, "..", "welcome")).StatusCode);
    }

    [Fact]
    public async Task AnotherCompanysPromptsAreNotFoundThroughACompanysOwnRoute()
    {
        var victim = await _app.TenantAsync("Victim");
        var attacker = await _app.TenantAsync("Attacker");
        var upload = await Arrange.ReadAsync(await _app.UploadAsync(victim, VoiceArrange.Wav(TimeSpan.FromSeconds(0.2))), HttpStatusCode.Created);
        var ivrId = await _app.IvrAsync(victim, welcome: new JsonObject { ["audioId"] = upload["audioId"]!.GetValue<string>() });

        foreach (var prompt in new[] { "welcome", "closed", "unanswered" })
        {
            var answer = await _app.PreviewAsync(attacker, ivrId, prompt);
            Assert.True(answer.StatusCode == HttpStatusCode.NotFound, $"{prompt}: {(int)answer.StatusCode}");
        }

        // The victim's own key on the attacker's company route is a 404 too, before anything is read.
        Assert.Equal(HttpStatusCode.NotFound, (await _app.As(victim.ManagementKey).GetAsync($"/api/companies/{attacker.CompanyId}/ivrs/{ivrId}/prompts/welcome/audio")).StatusCode);
        await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(victim, ivrId, "welcome"));
    }
}

/// <summary>A machine without espeak-ng (and no Speech endpoint) previews text prompts as a 503 that names it; uploaded audio still plays.</summary>
public sealed class PromptPreviewWithoutEspeakTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite, new Dictionary<string, string?> { ["Omni:Voice:EspeakPath"] = "/nonexistent/espeak-ng" });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task ATextPromptIsA503ProblemNamingEspeakNgAndAnUploadedOneStillPlays()
    {
        var tenant = await _app.TenantAsync();
        var upload = await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(0.2))), HttpStatusCode.Created);
        // Words no other test speaks: the speech cache is shared, and a cached preview needs no espeak-ng.
        var ivrId = await _app.IvrAsync(tenant, welcome: new JsonObject { ["audioId"] = upload["audioId"]!.GetValue<string>() },
            unanswered: new JsonObject { ["text"] = $"Sem espeak {Guid.NewGuid():N}.", ["voice"] = "pt-BR-FranciscaNeural" });

        var answer = await _app.PreviewAsync(tenant, ivrId, "unanswered");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
        Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        Assert.Contains("espeak-ng", (await answer.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        await PromptArrange.TelephonyWavAsync(await _app.PreviewAsync(tenant, ivrId, "welcome"));
    }
}
