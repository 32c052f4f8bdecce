using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;
using Omni.Voice;

namespace Omni.Tests.Voice;

/// <summary>One request the local ACS server took: the operation (<c>answer</c>, <c>play</c>, <c>recognize</c>, …), its call connection, its body.</summary>
internal sealed record AcsRequest(string Operation, string? CallConnectionId, string PathAndQuery, JsonObject Body, string Authorization);

/// <summary>
/// A local HTTPS server speaking Call Automation's documented REST API (api-version 2024-09-15): <c>callConnections:answer</c>
/// (200 with the new call connection), <c>{id}:play</c>, <c>:recognize</c>, <c>:transferToParticipant</c> (202) and
/// <c>:terminate</c> (204). Every request must be signed with the resource's access key as ACS documents: the server
/// recomputes the HMAC-SHA256 from the request it received (method, path and query, x-ms-date, host, and a content
/// hash it checks against the body) and answers 401 to one that does not match, or to a bearer token it was not told of.
/// </summary>
internal sealed class FakeAcs : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _accessKey;

    private FakeAcs(WebApplication app, string accessKey)
    {
        _app = app;
        _accessKey = accessKey;
    }

    public string AccessKey => _accessKey;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The bearer token accepted instead of a signature (the app's managed identity), when set.</summary>
    public string? BearerToken { get; set; }

    public ConcurrentQueue<AcsRequest> Requests { get; } = new();

    public int Refused => _refused;

    private int _refused;

    public static async Task<FakeAcs> StartAsync(TestCertificateAuthority authority)
    {
        var fake = new FakeAcs(LocalHttpsServer.Create(authority), Convert.ToBase64String(RandomNumberGenerator.GetBytes(64)));
        fake._app.MapPost("/calling/{**rest}", fake.HandleAsync);
        fake.Endpoint = await LocalHttpsServer.StartAsync(fake._app);
        return fake;
    }

    public IEnumerable<AcsRequest> For(string callConnectionId) => Requests.Where(r => r.CallConnectionId == callConnectionId);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<IResult> HandleAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var authorization = request.Headers.Authorization.ToString();
        if (request.Query["api-version"] != AcsCallAutomation.ApiVersion || !Authorized(request, body, authorization))
        {
            Interlocked.Increment(ref _refused);
            return Results.Json(new JsonObject { ["error"] = new JsonObject { ["code"] = "Unauthorized", ["message"] = "Denied by the local ACS server." } }, statusCode: 401);
        }

        // calling/callConnections:answer, or calling/callConnections/{id}:{operation}
        var path = request.Path.Value!["/calling/callConnections".Length..];
        var operation = path[(path.LastIndexOf(':') + 1)..];
        var connection = path.StartsWith('/') ? Uri.UnescapeDataString(path[1..path.LastIndexOf(':')]) : null;
        var json = body.Length == 0 ? new JsonObject() : JsonNode.Parse(body)!.AsObject();
        if (operation == "answer")
        {
            connection = "conn-" + Guid.NewGuid().ToString("N");
        }

        Requests.Enqueue(new AcsRequest(operation, connection, request.Path + request.QueryString, json, authorization));
        return operation switch
        {
            "answer" => Results.Json(new JsonObject
            {
                ["callConnectionId"] = connection,
                ["serverCallId"] = "server-" + connection,
                ["callbackUri"] = json["callbackUri"]?.GetValue<string>(),
                ["callConnectionState"] = "connecting",
            }),
            "terminate" => Results.NoContent(),
            "transferToParticipant" => Results.Json(new JsonObject { ["operationContext"] = json["operationContext"]?.GetValue<string>() }, statusCode: 202),
            _ => Results.StatusCode(202),
        };
    }

    private bool Authorized(HttpRequest request, byte[] body, string authorization)
    {
        if (BearerToken is not null)
        {
            return authorization == "Bearer " + BearerToken;
        }

        const string scheme = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=";
        var date = request.Headers["x-ms-date"].ToString();
        var hash = request.Headers["x-ms-content-sha256"].ToString();
        if (!authorization.StartsWith(scheme, StringComparison.Ordinal) || date.Length == 0
            || hash != Convert.ToBase64String(SHA256.HashData(body))
            || !DateTimeOffset.TryParse(date, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var sent)
            || (DateTimeOffset.UtcNow - sent).Duration() > TimeSpan.FromMinutes(15))
        {
            return false;
        }

        // Recomputed from what arrived, independently of the app's signing code.
        var toSign = $"{request.Method}\n{request.Path}{request.QueryString}\n{date};{request.Host.Value};{hash}";
        var expected = Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(_accessKey), Encoding.UTF8.GetBytes(toSign)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(authorization[scheme.Length..]));
    }
}

/// <summary>A test class's local ACS server and the app configured to call it (with the server's access key unless <c>withAccessKey</c> is false).</summary>
internal sealed class AcsTestHost : IAsyncDisposable
{
    private AcsTestHost(TestCertificateAuthority authority, FakeAcs acs, OmniApp app) => (Authority, Acs, App) = (authority, acs, app);

    public TestCertificateAuthority Authority { get; }

    public FakeAcs Acs { get; }

    public OmniApp App { get; }

    public static async Task<AcsTestHost> StartAsync(AzuriteFixture azurite, bool withAccessKey = true, Action<IServiceCollection>? services = null)
    {
        var authority = TestCertificateAuthority.Create();
        var acs = await FakeAcs.StartAsync(authority);
        var app = new OmniApp(azurite, new Dictionary<string, string?>
        {
            ["Omni:Voice:AcsEndpoint"] = acs.Endpoint.ToString(),
            ["Omni:Voice:AcsAccessKey"] = withAccessKey ? acs.AccessKey : null,
            ["Omni:Voice:PublicBaseUrl"] = "https://omni.example.com",
        }, s =>
        {
            s.AddHttpClient(AcsCallAutomation.HttpClientName).ConfigurePrimaryHttpMessageHandler(authority.CreateTrustingHandler);
            services?.Invoke(s);
        });
        return new AcsTestHost(authority, acs, app);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Acs.DisposeAsync();
        Authority.Dispose();
    }
}
