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

    private Uri Resolve(string pathAndQuery) => new(options.CurrentValue.ApiBaseUri, pathAndQuery.TrimStart('/'));

    private async Task<JsonNode> SendAsync(HttpRequestMessage request, string? accessToken, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (accessToken is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            }

            var client = httpClients.CreateClient(HttpClientName);
            client.Timeout = options.CurrentValue.RequestTimeout;
            using var response = await client.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonNode? json = null;
            try
            {
                json = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                // Not JSON (a proxy's page): the status says enough below.
            }

            if (!response.IsSuccessStatusCode)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta;
                return json is JsonObject error
                    ? throw new MercadoLivreApiException(response.StatusCode, Text(error["error"]), Text(error["message"]) ?? "no message", retryAfter)
                    : throw new MercadoLivreApiException(response.StatusCode, null, $"{(int)response.StatusCode} {response.ReasonPhrase} without an error document", retryAfter);
            }

            return json ?? throw new MercadoLivreApiException(response.StatusCode, null, "an answer that is not JSON");
        }
    }

    internal static string? Text(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<long>(out var n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => null,
    };
}
