using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Omni.Meta;

/// <summary>
/// The one way the app talks to Meta's Graph API: the channel's access token as a bearer, JSON in and out, Graph's
/// error document turned into <see cref="MetaApiException"/>. Paths are relative to <see cref="MetaOptions.GraphBaseUrl"/>.
/// The token is never logged: it travels only in the Authorization header.
/// </summary>
public sealed class MetaGraphClient(IHttpClientFactory httpClients, IOptionsMonitor<MetaOptions> options)
{
    public const string HttpClientName = "Meta";

    public Task<JsonNode> GetAsync(string path, string accessToken, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, Resolve(path)), accessToken, cancellationToken);

    public Task<JsonNode> PostJsonAsync(string path, JsonNode body, string accessToken, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, Resolve(path)) { Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json") }, accessToken, cancellationToken);

    public Task<JsonNode> PostAsync(string path, HttpContent content, string accessToken, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, Resolve(path)) { Content = content }, accessToken, cancellationToken);

    /// <summary>
    /// Opens an absolute URL Meta handed out (a media download link) with the bearer token; the caller reads and
    /// disposes the response, bounding what it reads.
    /// </summary>
    public async Task<HttpResponseMessage> OpenAsync(Uri url, string accessToken, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        var response = await Client().SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ErrorAsync(response, cancellationToken);
            }
        }

        return response;
    }

    private Uri Resolve(string path) => new(options.CurrentValue.GraphBaseUri, path.TrimStart('/'));

    private HttpClient Client()
    {
        var client = httpClients.CreateClient(HttpClientName);
        client.Timeout = options.CurrentValue.RequestTimeout;
        return client;
    }

    private async Task<JsonNode> SendAsync(HttpRequestMessage request, string accessToken, CancellationToken cancellationToken)
    {
        using (request)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
            using var response = await Client().SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, cancellationToken);
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            try
            {
                return JsonNode.Parse(text.Length == 0 ? "{}" : text) ?? new JsonObject();
            }
            catch (JsonException e)
            {
                throw new MetaApiException(response.StatusCode, 0, null, $"Meta answered with a body that is not JSON ({e.Message}).", null);
            }
        }
    }

    private static async Task<MetaApiException> ErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            if (JsonNode.Parse(text)?["error"] is JsonObject error)
            {
                return new MetaApiException(response.StatusCode,
                    error["code"] is JsonValue c && c.TryGetValue<int>(out var code) ? code : 0,
                    error["error_subcode"] is JsonValue s && s.TryGetValue<int>(out var subcode) ? subcode : null,
                    // WhatsApp puts the human title in error_data.details or title; Graph in message.
                    error["error_user_title"]?.GetValue<string>() ?? error["message"]?.GetValue<string>() ?? "no message",
                    error["type"]?.GetValue<string>());
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            // Not Graph's error document (a proxy's HTML page): the status says enough.
        }

        return new MetaApiException(response.StatusCode, 0, null, $"Meta answered {(int)response.StatusCode} {response.ReasonPhrase} without an error document.", null);
    }
}
