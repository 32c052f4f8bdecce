using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Azure.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;
using Omni.Webchat;

namespace Omni.Tests.Webchat;

/// <summary>A token credential standing in for the app's managed identity.</summary>
internal sealed class FixedTokenCredential(string token) : TokenCredential
{
    public ConcurrentQueue<string> Scopes { get; } = new();

    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        foreach (var scope in requestContext.Scopes)
        {
            Scopes.Enqueue(scope);
        }

        return new AccessToken(token, DateTimeOffset.UtcNow.AddHours(1));
    }

    public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(requestContext, cancellationToken));
}

/// <summary>
/// The Web PubSub adapter against a local HTTPS server speaking its data-plane REST API (:generateToken and
/// users/{userId}/:send, api-version 2024-01-01): negotiate issues a client URL for the visitor, and agents' replies
/// are sent to that user with the app's Entra ID token, the same replies the SSE stream carries.
/// </summary>
public sealed class WebPubSubTests : IAsyncLifetime
{
    private const string EntraToken = "entra-token-for-webpubsub";
    private readonly TestCertificateAuthority _authority = TestCertificateAuthority.Create();
    private readonly FixedTokenCredential _credential = new(EntraToken);
    private readonly ConcurrentQueue<(string Path, string? Authorization, string Body)> _calls = new();
    private readonly AzuriteFixture _azurite;
    private WebApplication _fake = null!;
    private OmniApp _app = null!;
    private Uri _endpoint = null!;

    public WebPubSubTests(AzuriteFixture azurite) => _azurite = azurite;

    public async ValueTask InitializeAsync()
    {
        _fake = LocalHttpsServer.Create(_authority);
        _fake.MapPost("/api/hubs/{hub}/{**rest}", async (HttpRequest request) =>
        {
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            _calls.Enqueue((request.Path + request.QueryString, request.Headers.Authorization.ToString(), body));
            return request.Path.Value!.EndsWith("/:generateToken", StringComparison.Ordinal)
                ? Results.Json(new JsonObject { ["token"] = "client-jwt-" + request.Query["userId"] })
                : Results.StatusCode(202);
        });
        _endpoint = await LocalHttpsServer.StartAsync(_fake);
        _app = new OmniApp(_azurite, new Dictionary<string, string?>(IsolatedQueues.Settings())
        {
            ["Omni:Triggers:RunLocally"] = "true",
            ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
            ["Omni:Webchat:WebPubSubEndpoint"] = _endpoint.ToString(),
        }, services =>
        {
            services.AddHttpClient(WebPubSubClient.HttpClientName).ConfigurePrimaryHttpMessageHandler(_authority.CreateTrustingHandler);
            services.AddSingleton(new WebPubSubCredential(_credential));
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _fake.DisposeAsync();
        _authority.Dispose();
    }

    [Fact]
    public async Task NegotiateIssuesAClientUrlScopedToTheVisitorWithTheAppsIdentity()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);

        var negotiated = await Arrange.ReadAsync(await _app.Page(visitor.Origin, visitor.SessionToken).PostAsync("/api/webchat/sessions/negotiate", null), HttpStatusCode.OK);

        var url = new Uri(negotiated["url"]!.GetValue<string>());
        Assert.Equal("wss", url.Scheme);
        Assert.Equal("/client/hubs/webchat", url.AbsolutePath);
        var call = Assert.Single(_calls, c => c.Path.Contains(":generateToken", StringComparison.Ordinal));
        Assert.StartsWith("/api/hubs/webchat/:generateToken?api-version=2024-01-01&userId=", call.Path, StringComparison.Ordinal);
        Assert.Equal("Bearer " + EntraToken, call.Authorization);
        Assert.Contains("https://webpubsub.azure.com/.default", _credential.Scopes);
        var userId = System.Web.HttpUtility.ParseQueryString(new Uri(_endpoint, call.Path).Query)["userId"]!;
        Assert.Equal("access_token=client-jwt-" + userId, url.Query.TrimStart('?'));
    }

    [Fact]
    public async Task AnAgentsReplyIsSentToTheVisitorsUserAndTheSameUserIsNegotiatedForEachOfTheirSessions()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "Oi");
        await _app.Page(visitor.Origin, visitor.SessionToken).PostAsync("/api/webchat/sessions/negotiate", null);
        var userId = System.Web.HttpUtility.ParseQueryString(new Uri(_endpoint, _calls.Single().Path).Query)["userId"]!;

        var messageId = await _app.ReplyAsync(site.Tenant, conversationId, "Olá pelo Web PubSub");
        await Eventually.HoldsAsync(() => Task.FromResult(_calls.Any(c => c.Path.Contains("/:send", StringComparison.Ordinal))), "the reply was sent to Web PubSub");

        var send = _calls.Single(c => c.Path.Contains("/:send", StringComparison.Ordinal));
        Assert.Equal($"/api/hubs/webchat/users/{userId}/:send?api-version=2024-01-01", send.Path);
        Assert.Equal("Bearer " + EntraToken, send.Authorization);
        var body = JsonNode.Parse(send.Body)!.AsObject();
        Assert.Equal(messageId, body["id"]!.GetValue<string>());
        Assert.Equal("agent", body["from"]!.GetValue<string>());
        Assert.Equal("Olá pelo Web PubSub", body["text"]!.GetValue<string>());
        await Eventually.HoldsAsync(async () => (await _app.ThreadAsync(visitor)).Count == 2, "the reply is marked sent and in the visitor's thread");
    }

    [Fact]
    public async Task TheWidgetListensOnWebPubSubWhenItIsConfigured()
    {
        var site = await _app.WebchatAsync();

        var script = await _app.Anonymous().GetStringAsync($"/api/webchat/{site.WebsiteToken}/widget.js");

        Assert.Contains("\"realtime\":\"webpubsub\"", script, StringComparison.Ordinal);
    }
}
