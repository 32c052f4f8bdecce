using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Core;
using Microsoft.Extensions.Options;

namespace Omni.Webchat;

/// <summary>The identity the app calls Web PubSub with (its managed identity in Azure): no access key exists.</summary>
public sealed record WebPubSubCredential(TokenCredential Credential);

/// <summary>What a call to Web PubSub came to; <see cref="RetryAfter"/> set when it is worth trying again.</summary>
internal sealed record WebPubSubResult(bool Ok, string? Error = null, TimeSpan? RetryAfter = null);

/// <summary>
/// Azure Web PubSub over its data-plane REST API (api-version 2024-01-01), called with an Entra ID token of the app's
/// identity: client access URLs for visitors (a token scoped to the visitor's user id, from <c>:generateToken</c>) and
/// agents' replies sent to that user. Only used when <see cref="WebchatOptions.WebPubSubEndpoint"/> is set.
/// </summary>
internal sealed class WebPubSubClient(IHttpClientFactory httpClients, WebPubSubCredential credential, IOptions<WebchatOptions> options)
{
    public const string HttpClientName = "omni-webpubsub";
    private const string ApiVersion = "2024-01-01";
    private static readonly string[] Scopes = ["https://webpubsub.azure.com/.default"];

    public bool Enabled => options.Value.WebPubSubEndpoint is not null;

    /// <summary>The WebSocket URL a visitor connects to, carrying a token that names only them; null when Web PubSub did not answer.</summary>
    public async Task<Uri?> ClientUrlAsync(string visitorKey, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        using var request = await RequestAsync(HttpMethod.Post,
            $"api/hubs/{o.WebPubSubHub}/:generateToken?api-version={ApiVersion}&userId={Uri.EscapeDataString(visitorKey)}&minutesToExpire={o.WebPubSubTokenMinutes}", cancellationToken);
        using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode
            || JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))?["token"]?.GetValue<string>() is not { Length: > 0 } token)
        {
            return null;
        }

        var socket = new UriBuilder(o.WebPubSubEndpoint!) { Scheme = o.WebPubSubEndpoint!.Scheme == "http" ? "ws" : "wss", Path = $"client/hubs/{o.WebPubSubHub}", Query = "access_token=" + Uri.EscapeDataString(token) };
        return socket.Uri;
    }

    /// <summary>Sends one JSON message to every connection of the visitor.</summary>
    public async Task<WebPubSubResult> SendToUserAsync(string visitorKey, JsonObject message, CancellationToken cancellationToken = default)
    {
        using var request = await RequestAsync(HttpMethod.Post, $"api/hubs/{options.Value.WebPubSubHub}/users/{Uri.EscapeDataString(visitorKey)}/:send?api-version={ApiVersion}", cancellationToken);
        request.Content = new StringContent(message.ToJsonString(), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            return new WebPubSubResult(false, $"Web PubSub could not be reached: {e.HttpRequestError}.", TimeSpan.FromSeconds(10));
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? new WebPubSubResult(true)
                : new WebPubSubResult(false, $"Web PubSub answered {status}.",
                    status is 408 or 429 or >= 500 || response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                        ? response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(10)
                        : null);
        }
    }

    private async Task<HttpRequestMessage> RequestAsync(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        var token = await credential.Credential.GetTokenAsync(new TokenRequestContext(Scopes), cancellationToken);
        var baseUri = new Uri(options.Value.WebPubSubEndpoint!.ToString().TrimEnd('/') + "/");
        var request = new HttpRequestMessage(method, new Uri(baseUri, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        return request;
    }
}
