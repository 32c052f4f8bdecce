using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Core;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>The identity the app calls ACS with when no access key is set (its managed identity in Azure).</summary>
public sealed record AcsCredential(TokenCredential Credential);

/// <summary>What ACS answered: <see cref="Status"/> 0 when it could not be reached at all.</summary>
internal sealed record AcsResult(int Status, JsonNode? Body = null)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>Worth trying again later: ACS was unreachable, throttled or failing.</summary>
    public bool Transient => Status is 0 or 408 or 429 or >= 500;
}

/// <summary>
/// Azure Communication Services Call Automation over its REST API (api-version 2024-09-15), with HttpClient and
/// Azure.Core only: no ACS .NET SDK is on the registry here. Requests are signed as ACS documents for access keys
/// (HMAC-SHA256 over the method, path and query, date, host and content hash) or carry an Entra ID token of the app's
/// identity when no key is set.
/// </summary>
internal sealed class AcsCallAutomation(IHttpClientFactory httpClients, AcsCredential credential, IOptions<AcsOptions> options, TimeProvider clock)
{
    public const string HttpClientName = "omni-acs";
    public const string ApiVersion = "2024-09-15";
    private static readonly string[] Scopes = ["https://communication.azure.com//.default"];

    public bool Enabled => options.Value.AcsEndpoint is not null;

    public Task<AcsResult> AnswerAsync(string incomingCallContext, Uri callbackUri, string operationContext, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject
        {
            ["incomingCallContext"] = incomingCallContext,
            ["callbackUri"] = callbackUri.ToString(),
            ["operationContext"] = operationContext,
        };
        if (options.Value.CognitiveServicesEndpoint is { } speech)
        {
            // Text prompts are spoken by this Azure AI services resource, attached to the call when it is answered.
            body["callIntelligenceOptions"] = new JsonObject { ["cognitiveServicesEndpoint"] = speech.ToString() };
        }

        return SendAsync(HttpMethod.Post, "calling/callConnections:answer", body, cancellationToken);
    }

    public Task<AcsResult> PlayAsync(string callConnectionId, JsonObject source, string operationContext, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"calling/callConnections/{Uri.EscapeDataString(callConnectionId)}:play", new JsonObject
        {
            ["playSources"] = new JsonArray(source),
            ["operationContext"] = operationContext,
        }, cancellationToken);

    /// <summary>One DTMF digit from the caller, the prompt played inside the recognize (a digit interrupts it).</summary>
    public Task<AcsResult> RecognizeDigitAsync(string callConnectionId, JsonObject prompt, JsonNode caller, string operationContext, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"calling/callConnections/{Uri.EscapeDataString(callConnectionId)}:recognize", new JsonObject
        {
            ["recognizeInputType"] = "dtmf",
            ["playPrompt"] = prompt,
            ["recognizeOptions"] = new JsonObject
            {
                ["interruptPrompt"] = true,
                ["initialSilenceTimeoutInSeconds"] = options.Value.MenuTimeoutSeconds,
                ["targetParticipant"] = caller.DeepClone(),
                ["dtmfOptions"] = new JsonObject { ["maxTonesToCollect"] = 1, ["interToneTimeoutInSeconds"] = 2 },
            },
            ["operationContext"] = operationContext,
        }, cancellationToken);

    /// <summary>Transfers the caller to an E.164 number (PSTN or a direct-routing voice route) or a SIP URI.</summary>
    public Task<AcsResult> TransferAsync(string callConnectionId, string target, string operationContext, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"calling/callConnections/{Uri.EscapeDataString(callConnectionId)}:transferToParticipant", new JsonObject
        {
            ["targetParticipant"] = target.StartsWith('+')
                ? new JsonObject { ["kind"] = "phoneNumber", ["rawId"] = "4:" + target, ["phoneNumber"] = new JsonObject { ["value"] = target } }
                : new JsonObject { ["kind"] = "unknown", ["rawId"] = target },
            ["operationContext"] = operationContext,
        }, cancellationToken);

    /// <summary>Ends the call for everyone in it.</summary>
    public Task<AcsResult> TerminateAsync(string callConnectionId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"calling/callConnections/{Uri.EscapeDataString(callConnectionId)}:terminate", null, cancellationToken);

    private async Task<AcsResult> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var uri = new Uri(new Uri(o.AcsEndpoint!.ToString().TrimEnd('/') + "/"), $"{path}?api-version={ApiVersion}");
        var content = body is null ? [] : Encoding.UTF8.GetBytes(body.ToJsonString());
        using var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(content);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        if (o.AcsAccessKey is { Length: > 0 } key)
        {
            Sign(request, content, key, clock.GetUtcNow());
        }
        else
        {
            var token = await credential.Credential.GetTokenAsync(new TokenRequestContext(Scopes), cancellationToken);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        }

        try
        {
            using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonNode? parsed = null;
            if (response.IsSuccessStatusCode && text.Length > 0)
            {
                try
                {
                    parsed = JsonNode.Parse(text);
                }
                catch (System.Text.Json.JsonException)
                {
                    // A success without a readable body: the caller goes on without what it would have read.
                }
            }

            return new AcsResult((int)response.StatusCode, parsed);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new AcsResult(0);
        }
    }

    /// <summary>
    /// ACS's HMAC scheme: <c>x-ms-date</c>, <c>x-ms-content-sha256</c> (base64 SHA-256 of the body) and a signature,
    /// HMAC-SHA256 under the decoded access key, of <c>VERB\npath?query\ndate;host;contenthash</c>.
    /// </summary>
    internal static void Sign(HttpRequestMessage request, byte[] content, string accessKey, DateTimeOffset now)
    {
        var uri = request.RequestUri!;
        var date = now.ToString("r", System.Globalization.CultureInfo.InvariantCulture);
        var hash = Convert.ToBase64String(SHA256.HashData(content));
        var signature = Signature(request.Method.Method, uri.PathAndQuery, date, uri.Authority, hash, accessKey);
        request.Headers.TryAddWithoutValidation("x-ms-date", date);
        request.Headers.TryAddWithoutValidation("x-ms-content-sha256", hash);
        request.Headers.TryAddWithoutValidation("Authorization", $"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}");
    }

    internal static string Signature(string method, string pathAndQuery, string date, string host, string contentHash, string accessKey) =>
        Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(accessKey), Encoding.UTF8.GetBytes($"{method}\n{pathAndQuery}\n{date};{host};{contentHash}")));
}
