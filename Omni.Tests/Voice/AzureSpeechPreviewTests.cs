using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;
using Omni.Tests.Webchat;
using Omni.Voice;

namespace Omni.Tests.Voice;

/// <summary>
/// Prompt previews spoken by Azure AI Speech's text-to-speech REST API, against a local HTTPS server that answers
/// <c>POST /tts/cognitiveservices/v1</c> (a custom-domain endpoint) as documented: SSML in, a RIFF 16 kHz mono 16-bit
/// PCM WAV out. One app authorizes with the resource key, the other with the app's managed identity.
/// </summary>
public sealed class AzureSpeechPreviewTests : IAsyncLifetime
{
    private const string SpeechKey = "speech-key-0123456789abcdef";
    private const string EntraToken = "entra-token-for-speech";
    private readonly TestCertificateAuthority _authority = TestCertificateAuthority.Create();
    private readonly FixedTokenCredential _credential = new(EntraToken);
    private readonly ConcurrentQueue<SpeechCall> _calls = new();
    private readonly AzuriteFixture _azurite;
    private WebApplication _fake = null!;
    private OmniApp _withKey = null!;
    private OmniApp _withIdentity = null!;

    public AzureSpeechPreviewTests(AzuriteFixture azurite) => _azurite = azurite;

    private sealed record SpeechCall(string Path, string? OutputFormat, string? Key, string? Authorization, string? ContentType, string Body);

    public async ValueTask InitializeAsync()
    {
        _fake = LocalHttpsServer.Create(_authority);
        _fake.MapPost("/tts/cognitiveservices/v1", async (HttpRequest request) =>
        {
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            _calls.Enqueue(new SpeechCall(request.Path, request.Headers["X-Microsoft-OutputFormat"], request.Headers["Ocp-Apim-Subscription-Key"],
                request.Headers.Authorization, request.ContentType, body));
            if (body.Contains("falhar", StringComparison.Ordinal))
            {
                return Results.StatusCode(StatusCodes.Status429TooManyRequests);
            }

            return Results.File(VoiceArrange.Wav(TimeSpan.FromSeconds(1.2), sampleRate: 16000, channels: 1), "audio/wav");
        });
        var endpoint = new Uri(await LocalHttpsServer.StartAsync(_fake), "tts");
        _withKey = App(endpoint, SpeechKey);
        _withIdentity = App(endpoint, null);
    }

    public async ValueTask DisposeAsync()
    {
        await _withKey.DisposeAsync();
        await _withIdentity.DisposeAsync();
        await _fake.DisposeAsync();
        _authority.Dispose();
    }

    [Fact]
    public async Task ATextPromptIsSentAsEscapedSsmlInItsVoiceWithTheKeyAndTheTelephonyFormatAndIsCached()
    {
        var tenant = await _withKey.TenantAsync();
        var text = $"Vendas & Suporte <24h> \"já\" {Random.Shared.Next(100_000, 999_999)}";
        var ivrId = await _withKey.IvrAsync(tenant, welcome: new JsonObject { ["text"] = text, ["voice"] = "pt-BR-AntonioNeural" });

        var first = await PromptArrange.TelephonyWavAsync(await _withKey.PreviewAsync(tenant, ivrId, "welcome"));
        var second = await PromptArrange.TelephonyWavAsync(await _withKey.PreviewAsync(tenant, ivrId, "welcome"));

        var call = Assert.Single(_calls, c => c.Body.Contains("Suporte", StringComparison.Ordinal));
        Assert.Equal("/tts/cognitiveservices/v1", call.Path);
        Assert.Equal("riff-16khz-16bit-mono-pcm", call.OutputFormat);
        Assert.Equal(SpeechKey, call.Key);
        Assert.Null(call.Authorization);
        Assert.StartsWith("application/ssml+xml", call.ContentType, StringComparison.Ordinal);
        // The text is escaped, not markup: the SSML parses, and reads back as exactly the prompt's text.
        Assert.Contains("Vendas &amp; Suporte &lt;24h&gt;", call.Body, StringComparison.Ordinal);
        var ssml = XElement.Parse(call.Body);
        XNamespace ns = "http://www.w3.org/2001/10/synthesis";
        Assert.Equal(ns + "speak", ssml.Name);
        Assert.Equal("pt-BR", ssml.Attribute(XNamespace.Xml + "lang")?.Value);
        var voice = Assert.Single(ssml.Elements(ns + "voice"));
        Assert.Equal("pt-BR-AntonioNeural", voice.Attribute("name")?.Value);
        Assert.Equal(text, voice.Value);
        Assert.Empty(voice.Elements());
        Assert.InRange(PromptArrange.Duration(first).TotalMilliseconds, 1150, 1250);
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task WithoutAKeyTheAppsIdentityTokenForCognitiveServicesIsSent()
    {
        var tenant = await _withIdentity.TenantAsync();
        var text = $"Ninguém pôde atender {Random.Shared.Next(100_000, 999_999)}.";
        var ivrId = await _withIdentity.IvrAsync(tenant, unanswered: new JsonObject { ["text"] = text });

        await PromptArrange.TelephonyWavAsync(await _withIdentity.PreviewAsync(tenant, ivrId, "unanswered"));

        var call = Assert.Single(_calls, c => c.Body.Contains(text, StringComparison.Ordinal));
        Assert.Equal("Bearer " + EntraToken, call.Authorization);
        Assert.Null(call.Key);
        Assert.Contains("https://cognitiveservices.azure.com/.default", _credential.Scopes);
        // The voice left out is the default one.
        Assert.Equal(IvrRules.DefaultVoice, XElement.Parse(call.Body).Descendants().Single().Attribute("name")?.Value);
    }

    [Fact]
    public async Task ASpeechErrorIsA502ProblemAndNothingIsCached()
    {
        var tenant = await _withKey.TenantAsync();
        var text = $"Isto vai falhar {Random.Shared.Next(100_000, 999_999)}.";
        var ivrId = await _withKey.IvrAsync(tenant, welcome: new JsonObject { ["text"] = text });

        var first = await _withKey.PreviewAsync(tenant, ivrId, "welcome");
        var second = await _withKey.PreviewAsync(tenant, ivrId, "welcome");

        Assert.Equal(HttpStatusCode.BadGateway, first.StatusCode);
        Assert.Equal("application/problem+json", first.Content.Headers.ContentType?.MediaType);
        Assert.Contains("429", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadGateway, second.StatusCode);
        Assert.Equal(2, _calls.Count(c => c.Body.Contains(text, StringComparison.Ordinal)));
        Assert.DoesNotContain(_withKey.Logs.Lines, l => l.Contains(SpeechKey, StringComparison.Ordinal));
    }

    private OmniApp App(Uri endpoint, string? key) => new(_azurite, new Dictionary<string, string?>
    {
        ["Omni:Voice:SpeechEndpoint"] = endpoint.ToString(),
        ["Omni:Voice:SpeechKey"] = key,
    }, services =>
    {
        services.AddHttpClient(AzureSpeechSynthesizer.HttpClientName).ConfigurePrimaryHttpMessageHandler(_authority.CreateTrustingHandler);
        services.AddSingleton(new SpeechCredential(_credential));
    });
}
