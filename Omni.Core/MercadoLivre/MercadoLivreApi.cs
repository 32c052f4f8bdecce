using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Omni.MercadoLivre;

/// <summary>
/// Mercado Livre answered with an error (<c>{message, error, status, cause}</c>). <see cref="Error"/> is its code
/// (<c>invalid_grant</c>, <c>not_found</c>); the message is Mercado Livre's words and carries no token.
/// </summary>
public sealed class MercadoLivreApiException(HttpStatusCode status, string? error, string message, TimeSpan? retryAfter = null)
    : Exception($"Mercado Livre answered {(int)status} {error}: {message}")
{
    public HttpStatusCode Status { get; } = status;

    public string? Error { get; } = error;

    public string Detail { get; } = message;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The refresh token (or code) was spent, revoked or never valid: only the seller's consent again helps.</summary>
    public bool IsInvalidGrant => Error == "invalid_grant";

    /// <summary>Worth trying again later: throttled, or Mercado Livre's own failure.</summary>
    public bool IsTransient => Status == HttpStatusCode.TooManyRequests || (int)Status >= 500;
}

/// <summary>A file Mercado Livre handed over: its bytes and the type it named.</summary>
public sealed record MercadoLivreFile(byte[] Content, string? ContentType);

/// <summary>
/// The one way the app talks to Mercado Livre's API: JSON in and out, a bearer access token, errors turned into
/// <see cref="MercadoLivreApiException"/>. Tokens travel only in headers and form bodies, never in a log line.
/// </summary>
public sealed class MercadoLivreApi(IHttpClientFactory httpClients, IOptionsMonitor<MercadoLivreOptions> options)
{
    public const string HttpClientName = "MercadoLivre";

    public Task<JsonNode> GetAsync(string pathAndQuery, string accessToken, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, Resolve(pathAndQuery)), accessToken, cancellationToken);

    public Task<JsonNode> PostJsonAsync(string pathAndQuery, JsonNode body, string accessToken, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, Resolve(pathAndQuery))
        {
            Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        }, accessToken, cancellationToken);

    /// <summary><c>POST {api}/oauth/token</c> with a form (refresh_token or authorization_code grant).</summary>
    public Task<JsonNode> TokenAsync(IReadOnlyDictionary<string, string> form, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, Resolve("oauth/token")) { Content = new FormUrlEncodedContent(form) }, null, cancellationToken);

    /// <summary><c>POST</c> of one file as <c>multipart/form-data</c> (field <c>file</c>), as Mercado Livre's attachment upload takes it.</summary>
    public Task<JsonNode> PostFileAsync(string pathAndQuery, string fileName, string contentType, BinaryData content, string accessToken, CancellationToken cancellationToken = default)
    {
        var file = new ByteArrayContent(content.ToArray());
        file.Headers.ContentType = MediaTypeHeaderValue.TryParse(contentType, out var type) ? type : new MediaTypeHeaderValue("application/octet-stream");
        var form = new MultipartFormDataContent { { file, "file", fileName } };
        return SendAsync(new HttpRequestMessage(HttpMethod.Post, Resolve(pathAndQuery)) { Content = form }, accessToken, cancellationToken);
    }

    /// <summary>A file read with the bearer token (an attachment); null when it is larger than <paramref name="maxBytes"/>.</summary>
    public async Task<MercadoLivreFile?> DownloadAsync(string pathAndQuery, string accessToken, long maxBytes, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Resolve(pathAndQuery));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("*/*"));
        using var response = await SendRawAsync(request, accessToken, cancellationToken);
        if (response.Content.Headers.ContentLength > maxBytes)
        {
            return null;
        }

        try
        {
            await response.Content.LoadIntoBufferAsync(maxBytes, cancellationToken);
        }
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
        {
            return null;
        }

        return new MercadoLivreFile(await response.Content.ReadAsByteArrayAsync(cancellationToken), response.Content.Headers.ContentType?.MediaType);
    }

    private Uri Resolve(string pathAndQuery) => new(options.CurrentValue.ApiBaseUri, pathAndQuery.TrimStart('/'));

    private async Task<JsonNode> SendAsync(HttpRequestMessage request, string? accessToken, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await SendRawAsync(request, accessToken, cancellationToken);
            return Parse(await response.Content.ReadAsStringAsync(cancellationToken))
                ?? throw new MercadoLivreApiException(response.StatusCode, null, "an answer that is not JSON");
        }
    }

    /// <summary>The answer when it is a success; otherwise Mercado Livre's error document as an exception.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, string? accessToken, CancellationToken cancellationToken)
    {
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        var client = httpClients.CreateClient(HttpClientName);
        client.Timeout = options.CurrentValue.RequestTimeout;
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var retryAfter = response.Headers.RetryAfter?.Delta;
            return Parse(await response.Content.ReadAsStringAsync(cancellationToken)) is JsonObject error
                ? throw new MercadoLivreApiException(response.StatusCode, Text(error["error"]), Text(error["message"]) ?? "no message", retryAfter)
                : throw new MercadoLivreApiException(response.StatusCode, null, $"{(int)response.StatusCode} {response.ReasonPhrase} without an error document", retryAfter);
        }
    }

    private static JsonNode? Parse(string text)
    {
        try
        {
            return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's page): the status says enough.
            return null;
        }
    }

    internal static string? Text(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<long>(out var n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => null,
    };
}
