using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.Meta;

/// <summary>One Graph API request the fake Meta answered, in arrival order.</summary>
public sealed record MetaRequest(DateTimeOffset At, string Method, string Path, string Query, string? Token, int Status, string? Body, string? ContentType);

/// <summary>What a route of the fake answers: JSON, or raw bytes (media downloads).</summary>
public sealed record MetaResponse(int Status, JsonNode? Json, byte[]? Raw = null, string? ContentType = null)
{
    public static MetaResponse Ok(JsonNode json) => new(200, json);

    /// <summary>Graph's error document: <c>{"error": {message, type, code, error_subcode?, fbtrace_id}}</c>.</summary>
    public static MetaResponse Error(int status, int code, string message, string type = "OAuthException", int? subcode = null) => new(status, new JsonObject
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = type,
            ["code"] = code,
            ["error_subcode"] = subcode,
            ["fbtrace_id"] = "AbCdEf" + Random.Shared.Next(1000, 9999),
        },
    });
}

/// <summary>A request as a route sees it: its path segments after the version, query, bearer token and body.</summary>
public sealed record MetaCall(string Method, string[] Segments, IQueryCollection Query, string? Token, byte[] Body, string? ContentType)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public JsonNode? BodyJson => Body.Length == 0 ? null : JsonNode.Parse(Body);
}

/// <summary>
/// A local HTTPS stand-in for Meta's Graph API (<c>https://graph.facebook.com/v23.0</c>) in its documented shapes,
/// over an in-memory set of WhatsApp phone numbers and Facebook pages, each with the access token that may act for
/// it. The core here serves HTTPS, checks bearer tokens and records requests; the routes live in the partial files
/// of the features that use them (media, messages, templates, phone numbers, pages), registered through
/// <see cref="Map"/> from the partial hooks below. Tests script failures with <see cref="FailNext"/>.
/// </summary>
public sealed partial class FakeMeta : IAsyncDisposable
{
    public const string Version = "v23.0";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<MetaRequest> _requests = new();
    private readonly List<(string Method, string[] Template, Func<MetaCall, MetaResponse?> Handler)> _routes = [];
    private readonly ConcurrentQueue<(Func<MetaCall, bool> When, MetaResponse Response)> _failures = new();

    private FakeMeta(WebApplication app)
    {
        _app = app;
        // Account routes first: their GET {id} answers only ids of numbers, pages and accounts (null otherwise), so a
        // media id falls through to the media route of the same shape.
        MapAccountRoutes();
        MapMessagingRoutes();
        MapMediaRoutes();
    }

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>What <c>Omni__Meta__GraphBaseUrl</c> is set to.</summary>
    public string GraphBaseUrl => new Uri(BaseUri, Version).ToString();

    public IReadOnlyList<MetaRequest> Requests => [.. _requests];

    /// <summary>Phone number id → the WhatsApp number Meta knows (token, business account).</summary>
    public ConcurrentDictionary<string, FakePhoneNumber> PhoneNumbers { get; } = new(StringComparer.Ordinal);

    /// <summary>Page id → the Facebook page and its Instagram account.</summary>
    public ConcurrentDictionary<string, FakePage> Pages { get; } = new(StringComparer.Ordinal);

    public static async Task<FakeMeta> StartAsync(TestCertificateAuthority authority)
    {
        var app = LocalHttpsServer.Create(authority);
        var meta = new FakeMeta(app);
        app.Run(meta.HandleAsync);
        meta.BaseUri = await LocalHttpsServer.StartAsync(app);
        return meta;
    }

    public FakePhoneNumber AddPhoneNumber(string displayNumber = "+55 11 98888-7777")
    {
        var number = new FakePhoneNumber(NewId(), NewId(), "EAAG" + Guid.NewGuid().ToString("N"), displayNumber);
        PhoneNumbers[number.Id] = number;
        return number;
    }

    public FakePage AddPage()
    {
        var page = new FakePage(NewId(), NewId(), "EAAP" + Guid.NewGuid().ToString("N"));
        Pages[page.Id] = page;
        return page;
    }

    /// <summary>The next request that <paramref name="when"/> matches gets <paramref name="response"/> instead of its route's answer.</summary>
    public void FailNext(Func<MetaCall, bool> when, MetaResponse response) => _failures.Enqueue((when, response));

    /// <summary>
    /// Adds a route. <paramref name="template"/> is the path after the version, <c>{x}</c> matching any one segment,
    /// e.g. <c>{phoneNumberId}/messages</c>. Routes are tried in the order they were added; a handler that answers null
    /// does not know the id (a media id is not a phone number id) and the next route is tried.
    /// </summary>
    private void Map(string method, string template, Func<MetaCall, MetaResponse?> handler) =>
        _routes.Add((method, template.Split('/', StringSplitOptions.RemoveEmptyEntries), handler));

    /// <summary>True when <paramref name="token"/> may act for the phone number or page with this id.</summary>
    internal bool TokenActsFor(string? token, string id) =>
        token is not null && ((PhoneNumbers.TryGetValue(id, out var n) && n.AccessToken == token && !n.TokenRevoked)
                              || (Pages.TryGetValue(id, out var p) && p.AccessToken == token && !p.TokenRevoked));

    internal static MetaResponse InvalidToken() => MetaResponse.Error(401, 190, "Invalid OAuth access token - Cannot parse access token");

    internal static string NewId() => Random.Shared.NextInt64(100_000_000_000_000, 999_999_999_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    partial void MapMediaRoutes();

    partial void MapMessagingRoutes();

    partial void MapAccountRoutes();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var authorization = request.Headers.Authorization.ToString();
        var token = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : request.Query["access_token"].FirstOrDefault();
        var segments = (request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        MetaResponse response;
        if (segments is not [Version, .. var rest])
        {
            response = MetaResponse.Error(400, 2500, $"Unknown path components: {request.Path}");
        }
        else
        {
            var call = new MetaCall(request.Method, rest, request.Query, token, body, request.ContentType);
            response = Answer(call);
        }

        var text = request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true ? $"({body.Length} bytes of {request.ContentType})" : Encoding.UTF8.GetString(body);
        _requests.Enqueue(new MetaRequest(DateTimeOffset.UtcNow, request.Method, request.Path.Value ?? "", request.QueryString.Value ?? "", token, response.Status, text, request.ContentType));
        context.Response.StatusCode = response.Status;
        if (response.Raw is not null)
        {
            context.Response.ContentType = response.ContentType ?? "application/octet-stream";
            await context.Response.Body.WriteAsync(response.Raw);
        }
        else if (response.Json is not null)
        {
            context.Response.ContentType = "application/json; charset=UTF-8";
            await context.Response.WriteAsync(response.Json.ToJsonString());
        }
    }

    private MetaResponse Answer(MetaCall call)
    {
        foreach (var (when, failure) in _failures)
        {
            if (when(call) && TryTake(when, out var taken))
            {
                return taken;
            }
        }

        foreach (var (method, template, handler) in _routes)
        {
            if (method == call.Method && template.Length == call.Segments.Length
                && template.Zip(call.Segments).All(p => p.First.StartsWith('{') || p.First == p.Second)
                && handler(call) is { } answer)
            {
                return answer;
            }
        }

        return MetaResponse.Error(400, 100, $"Unsupported {call.Method} request: no fake route for /{string.Join('/', call.Segments)}", "GraphMethodException");
    }

    private bool TryTake(Func<MetaCall, bool> when, out MetaResponse response)
    {
        // Rebuild the queue without the first scripted failure whose predicate is this one.
        lock (_failures)
        {
            var all = new List<(Func<MetaCall, bool>, MetaResponse)>();
            var found = false;
            response = null!;
            while (_failures.TryDequeue(out var item))
            {
                if (!found && item.When == when)
                {
                    found = true;
                    response = item.Response;
                    continue;
                }

                all.Add(item);
            }

            foreach (var item in all)
            {
                _failures.Enqueue(item);
            }

            return found;
        }
    }
}

/// <summary>A WhatsApp Business phone number: its id, its business account (WABA) and the token that acts for it.</summary>
public sealed record FakePhoneNumber(string Id, string BusinessAccountId, string AccessToken, string DisplayNumber)
{
    public bool TokenRevoked { get; set; }
}

/// <summary>A Facebook page connected to an Instagram professional account, and the page token.</summary>
public sealed record FakePage(string Id, string InstagramAccountId, string AccessToken)
{
    public bool TokenRevoked { get; set; }
}
