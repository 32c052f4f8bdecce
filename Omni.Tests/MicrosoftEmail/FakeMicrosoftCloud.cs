using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Omni.Tests.Infrastructure;
using MimeKit;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>One request the fake cloud answered, in arrival order.</summary>
public sealed record RecordedRequest(DateTimeOffset At, string Method, string Path, string Query, string? Mailbox, int Status, string? Body);

/// <summary>
/// A local HTTPS stand-in for Entra ID's token endpoint and the Microsoft Graph mail routes the channel uses, in
/// their documented shapes, over a tiny in-memory directory of tenants, app registrations and mailboxes. Tests
/// script throttling and token expiry and read back what the app asked for.
/// </summary>
public sealed class FakeMicrosoftCloud : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, FakeTenant> _tenants = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, IssuedToken> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(int Status, string RetryAfter)>> _scripted = new(StringComparer.OrdinalIgnoreCase);
    private long _changes;

    private FakeMicrosoftCloud(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    public string GraphBaseUrl => new Uri(BaseUri, "v1.0").ToString();

    public string AuthorityHost => BaseUri.ToString();

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public int TokenRequests => Requests.Count(r => r.Path.EndsWith("/oauth2/v2.0/token", StringComparison.Ordinal));

    /// <summary>How long issued tokens say they last (<c>expires_in</c>).</summary>
    public int TokenLifetimeSeconds { get; set; } = 3599;

    public static async Task<FakeMicrosoftCloud> StartAsync(TestCertificateAuthority authority)
    {
        var app = LocalHttpsServer.Create(authority);
        var cloud = new FakeMicrosoftCloud(app);
        app.Run(cloud.HandleAsync);
        cloud.BaseUri = await LocalHttpsServer.StartAsync(app);
        return cloud;
    }

    public FakeTenant AddTenant()
    {
        var tenant = new FakeTenant(this, Guid.NewGuid().ToString());
        _tenants[tenant.Id] = tenant;
        return tenant;
    }

    /// <summary>The next <paramref name="count"/> Graph calls for that mailbox get this status (429/503 with a Retry-After; 410: the delta link expired).</summary>
    public void Throttle(FakeMailbox mailbox, string retryAfter, int status = 429, int count = 1)
    {
        var queue = _scripted.GetOrAdd(mailbox.Id, _ => new());
        for (var i = 0; i < count; i++)
        {
            queue.Enqueue((status, retryAfter));
        }
    }

    /// <summary>Every token issued so far is now past its lifetime, as Graph would see it after an hour.</summary>
    public void ExpireIssuedTokens()
    {
        foreach (var token in _tokens.Values)
        {
            token.Expired = true;
        }
    }

    /// <summary>The Graph requests made for a mailbox (not the token endpoint).</summary>
    public IReadOnlyList<RecordedRequest> GraphRequests(FakeMailbox mailbox) => Requests.Where(r => r.Mailbox == mailbox.Id).ToList();

    internal long NextChange() => Interlocked.Increment(ref _changes);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        string? body = null;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync();
        }

        string? mailboxId = null;
        var (status, json, headers, raw) = Dispatch(context.Request, path, body, ref mailboxId);
        _requests.Enqueue(new RecordedRequest(DateTimeOffset.UtcNow, context.Request.Method, path, context.Request.QueryString.Value ?? "", mailboxId, status, body));
        context.Response.StatusCode = status;
        foreach (var (name, value) in headers)
        {
            context.Response.Headers[name] = value;
        }

        if (raw is not null)
        {
            context.Response.ContentType = "text/plain";
            await context.Response.Body.WriteAsync(raw);
        }
        else if (json is not null)
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(json.ToJsonString());
        }
    }

    private (int Status, JsonNode? Json, Dictionary<string, string> Headers, byte[]? Raw) Dispatch(HttpRequest request, string path, string? body, ref string? mailboxId)
    {
        var none = new Dictionary<string, string>();
        var segments = path.Trim('/').Split('/');
        if (request.Method == "POST" && segments is [var tenantSegment, "oauth2", "v2.0", "token"])
        {
            return Token(tenantSegment, body);
        }

        if (segments is not ["v1.0", "users", var user, .. var rest])
        {
            return (404, GraphError("UnknownRoute", $"No fake route for {request.Method} {path}."), none, null);
        }

        var mailbox = _tenants.Values.SelectMany(t => t.Mailboxes).FirstOrDefault(m =>
            string.Equals(m.Id, user, StringComparison.OrdinalIgnoreCase) || string.Equals(m.Address, user, StringComparison.OrdinalIgnoreCase));
        mailboxId = mailbox?.Id;

        var authorization = request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !_tokens.TryGetValue(authorization["Bearer ".Length..], out var token))
        {
            return Unauthorized("IdentityValidationFailed: the token is missing or was not issued here.");
        }

        if (token.Expired)
        {
            return Unauthorized("Lifetime validation failed, the token is expired.");
        }

        // An app sees only its own tenant's mailboxes; Graph answers as if any other did not exist.
        if (mailbox is null || mailbox.Tenant.Id != token.App.Tenant.Id)
        {
            return (404, GraphError("ErrorInvalidUser", $"The requested user '{user}' is invalid."), none, null);
        }

        if (_scripted.TryGetValue(mailbox.Id, out var script) && script.TryDequeue(out var scripted))
        {
            return scripted.Status == 410
                ? (410, GraphError("SyncStateNotFound", "The sync state generation is no longer valid; resync from the start."), none, null)
                : (scripted.Status, GraphError(scripted.Status == 429 ? "TooManyRequests" : "ServiceUnavailable", "Application is over its MailboxConcurrency limit."),
                    new Dictionary<string, string> { ["Retry-After"] = scripted.RetryAfter }, null);
        }

        if (!token.App.MailPermissionGranted)
        {
            return (403, GraphError("ErrorAccessDenied", "Access is denied. Check credentials and try again."), none, null);
        }

        return (request.Method, rest) switch
        {
            ("GET", ["mailFolders", var folder]) when folder.Equals("inbox", StringComparison.OrdinalIgnoreCase) =>
                (200, new JsonObject { ["id"] = mailbox.InboxId, ["displayName"] = "Inbox", ["totalItemCount"] = mailbox.Inbox.Count }, none, null),
            ("GET", ["mailFolders", "inbox", "messages", "delta" or "delta()"]) => Delta(request, user, mailbox),
            ("GET", ["messages", var id, "$value"]) => mailbox.Find(id) is { } m ? (200, null, none, m.Mime) : (404, GraphError("ErrorItemNotFound", "The specified object was not found in the store."), none, null),
            ("PATCH", ["messages", var id]) => Patch(mailbox, id, body),
            ("POST", ["sendMail"]) => SendMail(request, mailbox, body),
            ("GET", ["mailFolders", var folder, "messages"]) when folder.Equals("sentitems", StringComparison.OrdinalIgnoreCase) => SentItems(request, mailbox),
            _ => (404, GraphError("UnknownRoute", $"No fake route for {request.Method} {path}."), none, null),
        };
    }

    private (int, JsonNode?, Dictionary<string, string>, byte[]?) Token(string tenantSegment, string? body)
    {
        var form = (body ?? "").Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => WebUtility.UrlDecode(p[0]), p => WebUtility.UrlDecode(p.Length > 1 ? p[1] : ""), StringComparer.Ordinal);
        var none = new Dictionary<string, string>();
        if (!_tenants.TryGetValue(tenantSegment, out var tenant))
        {
            return (400, TokenError("invalid_request", 90002, $"Tenant '{tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."), none, null);
        }

        if (form.GetValueOrDefault("grant_type") != "client_credentials" || form.GetValueOrDefault("scope") != new Uri(BaseUri, "/.default").ToString())
        {
            return (400, TokenError("invalid_scope", 70011, "The provided request must include a 'scope' input parameter."), none, null);
        }

        if (!tenant.Apps.TryGetValue(form.GetValueOrDefault("client_id") ?? "", out var app))
        {
            return (400, TokenError("unauthorized_client", 700016, $"Application with identifier '{form.GetValueOrDefault("client_id")}' was not found in the directory '{tenant.Id}'."), none, null);
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(form.GetValueOrDefault("client_secret") ?? ""), Encoding.UTF8.GetBytes(app.Secret)))
        {
            return (401, TokenError("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."), none, null);
        }

        var access = "eyJ0eXAiOiJKV1Qi." + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        _tokens[access] = new IssuedToken(app);
        return (200, new JsonObject
        {
            ["token_type"] = "Bearer",
            ["expires_in"] = TokenLifetimeSeconds,
            ["ext_expires_in"] = TokenLifetimeSeconds,
            ["access_token"] = access,
        }, none, null);
    }

    private (int, JsonNode?, Dictionary<string, string>, byte[]?) Delta(HttpRequest request, string user, FakeMailbox mailbox)
    {
        // A page resumes after the change it ended on, not at an index: a message changed meanwhile (marked read by
        // the app) leaves this round instead of shifting the rest, and one changed before it was listed comes in the
        // next round, as Graph's own sync state does.
        long from = 0, upto, after = 0;
        var pageSize = 10;
        if (request.Headers["Prefer"].ToString() is { } prefer && prefer.StartsWith("odata.maxpagesize=", StringComparison.Ordinal))
        {
            pageSize = int.Parse(prefer["odata.maxpagesize=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        }

        if (request.Query["$skiptoken"].ToString() is { Length: > 0 } skip)
        {
            var parts = skip.Split('-');
            (from, upto, after, pageSize) = (long.Parse(parts[0]), long.Parse(parts[1]), long.Parse(parts[2]), int.Parse(parts[3]));
        }
        else
        {
            if (request.Query["$deltatoken"].ToString() is { Length: > 0 } delta)
            {
                from = long.Parse(delta.Split('-')[0]);
            }

            upto = Interlocked.Read(ref _changes);
        }

        var changed = mailbox.Inbox.Where(m => m.Changed > Math.Max(from, after) && m.Changed <= upto).OrderBy(m => m.Changed).ToList();
        var listed = changed.Take(pageSize).ToList();
        var page = listed.Select(m => (JsonNode)new JsonObject
        {
            ["@odata.type"] = "#microsoft.graph.message",
            ["@odata.etag"] = $"W/\"{m.Changed}\"",
            ["id"] = m.Id,
            ["isRead"] = m.IsRead,
            ["internetMessageId"] = m.InternetMessageId,
        }).ToArray();
        var link = new Uri(BaseUri, $"v1.0/users/{user}/mailFolders/inbox/messages/delta").ToString();
        var result = new JsonObject
        {
            ["@odata.context"] = new Uri(BaseUri, $"v1.0/$metadata#Collection(message)").ToString(),
            ["value"] = new JsonArray(page),
        };
        if (pageSize < changed.Count)
        {
            result["@odata.nextLink"] = $"{link}?$skiptoken={from}-{upto}-{listed[^1].Changed}-{pageSize}";
        }
        else
        {
            // Real delta tokens change on every round, idle or not; the app must not store one per idle poll.
            result["@odata.deltaLink"] = $"{link}?$deltatoken={upto}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(6))}";
        }

        return (200, result, new Dictionary<string, string>(), null);
    }

    private (int, JsonNode?, Dictionary<string, string>, byte[]?) Patch(FakeMailbox mailbox, string id, string? body)
    {
        if (mailbox.Find(id) is not { } message)
        {
            return (404, GraphError("ErrorItemNotFound", "The specified object was not found in the store."), new Dictionary<string, string>(), null);
        }

        if (JsonNode.Parse(body ?? "{}")?["isRead"] is JsonValue isRead)
        {
            message.IsRead = isRead.GetValue<bool>();
            message.Changed = NextChange();
        }

        return (200, new JsonObject { ["id"] = message.Id, ["isRead"] = message.IsRead, ["internetMessageId"] = message.InternetMessageId }, new Dictionary<string, string>(), null);
    }

    private (int, JsonNode?, Dictionary<string, string>, byte[]?) SendMail(HttpRequest request, FakeMailbox mailbox, string? body)
    {
        var none = new Dictionary<string, string>();
        if (request.ContentType?.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase) != true)
        {
            return (400, GraphError("ErrorMimeContentInvalid", "This fake takes sendMail with MIME (text/plain, base64) only."), none, null);
        }

        try
        {
            using var stream = new MemoryStream(Convert.FromBase64String(body ?? ""));
            mailbox.Sent.Enqueue(MimeMessage.Load(stream));
            return (202, null, none, null);
        }
        catch (Exception ex) when (ex is FormatException or ParseException)
        {
            return (400, GraphError("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."), none, null);
        }
    }

    /// <summary>Sent Items filtered as Graph takes it: <c>$filter=internetMessageId eq '&lt;id&gt;'</c> (any other filter is refused).</summary>
    private static (int, JsonNode?, Dictionary<string, string>, byte[]?) SentItems(HttpRequest request, FakeMailbox mailbox)
    {
        var filter = request.Query["$filter"].ToString();
        const string Prefix = "internetMessageId eq '";
        if (!filter.StartsWith(Prefix, StringComparison.Ordinal) || !filter.EndsWith('\''))
        {
            return (400, GraphError("BadRequest", $"This fake filters Sent Items by internetMessageId only, not '{filter}'."), new Dictionary<string, string>(), null);
        }

        var wanted = filter[Prefix.Length..^1].Replace("''", "'", StringComparison.Ordinal);
        var found = mailbox.Sent.Where(m => $"<{m.MessageId}>" == wanted).Select((m, i) => (JsonNode)new JsonObject { ["id"] = $"AAMkAGI2-sent-{i}" }).ToArray();
        return (200, new JsonObject { ["value"] = new JsonArray(found) }, new Dictionary<string, string>(), null);
    }

    private static (int, JsonNode?, Dictionary<string, string>, byte[]?) Unauthorized(string message) =>
        (401, GraphError("InvalidAuthenticationToken", message), new Dictionary<string, string>
        {
            ["WWW-Authenticate"] = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        }, null);

    private static JsonObject GraphError(string code, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["innerError"] = new JsonObject { ["date"] = DateTimeOffset.UtcNow.ToString("s"), ["request-id"] = Guid.NewGuid().ToString() },
        },
    };

    private static JsonObject TokenError(string error, int code, string description) => new()
    {
        ["error"] = error,
        ["error_description"] = $"AADSTS{code}: {description} Trace ID: {Guid.NewGuid()} Correlation ID: {Guid.NewGuid()} Timestamp: {DateTimeOffset.UtcNow:u}",
        ["error_codes"] = new JsonArray(code),
        ["timestamp"] = DateTimeOffset.UtcNow.ToString("u"),
        ["trace_id"] = Guid.NewGuid().ToString(),
        ["correlation_id"] = Guid.NewGuid().ToString(),
        ["error_uri"] = $"https://login.microsoftonline.com/error?code={code}",
    };

    private sealed class IssuedToken(FakeApp app)
    {
        public FakeApp App { get; } = app;

        public bool Expired { get; set; }
    }
}

public sealed class FakeTenant(FakeMicrosoftCloud cloud, string id)
{
    public string Id { get; } = id;

    internal ConcurrentDictionary<string, FakeApp> Apps { get; } = new(StringComparer.OrdinalIgnoreCase);

    internal ConcurrentBag<FakeMailbox> Mailboxes { get; } = [];

    public FakeApp AddApp(bool mailPermissionGranted = true)
    {
        var app = new FakeApp(this, Guid.NewGuid().ToString(), "secret~" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), mailPermissionGranted);
        Apps[app.ClientId] = app;
        return app;
    }

    public FakeMailbox AddMailbox(string address)
    {
        var mailbox = new FakeMailbox(cloud, this, Guid.NewGuid().ToString(), address);
        Mailboxes.Add(mailbox);
        return mailbox;
    }
}

public sealed record FakeApp(FakeTenant Tenant, string ClientId, string Secret, bool MailPermissionGranted);

public sealed class FakeMailbox(FakeMicrosoftCloud cloud, FakeTenant tenant, string id, string address)
{
    public FakeTenant Tenant { get; } = tenant;

    public string Id { get; } = id;

    public string Address { get; } = address;

    public string InboxId { get; } = "AAMkAGI2-inbox-" + id[..8];

    public ConcurrentQueue<FakeMessage> Inbox { get; } = new();

    /// <summary>What the app sent through <c>sendMail</c>, parsed.</summary>
    public ConcurrentQueue<MimeMessage> Sent { get; } = new();

    public FakeMessage Deliver(MimeMessage mime, bool isRead = false)
    {
        using var buffer = new MemoryStream();
        mime.WriteTo(buffer);
        var message = new FakeMessage("AAMkAGI2-msg-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)), buffer.ToArray(), $"<{mime.MessageId}>")
        {
            IsRead = isRead,
            Changed = cloud.NextChange(),
        };
        Inbox.Enqueue(message);
        return message;
    }

    internal FakeMessage? Find(string id) => Inbox.FirstOrDefault(m => m.Id == id);
}

public sealed class FakeMessage(string id, byte[] mime, string internetMessageId)
{
    public string Id { get; } = id;

    public byte[] Mime { get; } = mime;

    public string InternetMessageId { get; } = internetMessageId;

    public bool IsRead { get; set; }

    public long Changed { get; set; }
}
