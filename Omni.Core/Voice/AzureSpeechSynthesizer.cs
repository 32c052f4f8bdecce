using System.Net.Http.Headers;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>The identity the app calls Azure AI Speech with when no key is set (its managed identity in Azure).</summary>
public sealed record SpeechCredential(TokenCredential Credential);

/// <summary>
/// Azure AI Speech's text-to-speech REST API: <c>POST {endpoint}/cognitiveservices/v1</c> with SSML, answered with a
/// 16 kHz mono 16-bit PCM WAV (<see cref="OutputFormat"/>), authorized by the resource key or, without one, by an
/// Entra ID token of the app's identity (which needs a custom-domain endpoint and Cognitive Services Speech User).
/// </summary>
internal sealed partial class AzureSpeechSynthesizer(IHttpClientFactory httpClients, SpeechCredential credential, IOptions<SpeechOptions> options, ILogger<AzureSpeechSynthesizer> logger)
    : ISpeechSynthesizer
{
    public const string HttpClientName = "omni-speech";
    public const string OutputFormat = "riff-16khz-16bit-mono-pcm";
    private static readonly string[] Scopes = ["https://cognitiveservices.azure.com/.default"];
    private static readonly XNamespace Ssml = "http://www.w3.org/2001/10/synthesis";

    public string Engine => "azure-speech";

    /// <summary>The SSML for one text in one voice; the text is XML-escaped, and characters XML cannot hold are left out.</summary>
    public static string ToSsml(string text, string voice) =>
        new XElement(Ssml + "speak",
            new XAttribute("version", "1.0"),
            new XAttribute(XNamespace.Xml + "lang", VoiceNames.Locale(voice)),
            new XElement(Ssml + "voice", new XAttribute("name", voice), new string(text.Where(XmlConvert.IsXmlChar).ToArray())))
        .ToString(SaveOptions.DisableFormatting);

    public async Task<Synthesis> SynthesizeAsync(string text, string voice, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.SpeechTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(o.SpeechEndpoint!.ToString().TrimEnd('/') + "/cognitiveservices/v1"));
            request.Content = new StringContent(ToSsml(text, voice), Encoding.UTF8, "application/ssml+xml");
            request.Headers.Add("X-Microsoft-OutputFormat", OutputFormat);
            request.Headers.UserAgent.ParseAdd("omni-channels");
            if (o.SpeechKey is { Length: > 0 } key)
            {
                request.Headers.Add("Ocp-Apim-Subscription-Key", key);
            }
            else
            {
                var token = await credential.Credential.GetTokenAsync(new TokenRequestContext(Scopes), timeout.Token);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
            }

            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogRefused((int)response.StatusCode, voice);
                return Synthesis.Failed($"Azure AI Speech answered {(int)response.StatusCode} for the voice {voice}.");
            }

            return Synthesis.Spoken(await response.Content.ReadAsByteArrayAsync(timeout.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Synthesis.Failed($"Azure AI Speech did not answer within {o.SpeechTimeout.TotalSeconds:0} s.");
        }
        catch (HttpRequestException e)
        {
            return Synthesis.Failed($"Azure AI Speech could not be reached: {e.HttpRequestError}.");
        }
        catch (AuthenticationFailedException)
        {
            return Synthesis.Failed("The app's identity could not get a token for Azure AI Speech (Omni__Voice__SpeechClientId, or set Omni__Voice__SpeechKey).");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Azure AI Speech answered {Status} for voice {Voice}")]
    private partial void LogRefused(int status, string voice);
}
