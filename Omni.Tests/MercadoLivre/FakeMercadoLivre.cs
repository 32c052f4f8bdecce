using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.MercadoLivre;

/// <summary>One request the fake answered, in arrival order (tokens only as the fake issued them).</summary>
public sealed record MercadoLivreRequest(string Method, string Path, string Query, string? Token, int Status, string Body);

/// <summary>A seller the fake knows: its id, and the one refresh token that is valid for it now.</summary>
public sealed class FakeSeller(string id, string refreshToken)
{
    public string Id { get; } = id;

    public string RefreshToken { get; set; } = refreshToken;
}

/// <summary>A question on an item, as <c>GET /questions/{id}?api_version=4</c> shows it.</summary>
public sealed record FakeQuestion(long Id, string SellerId, string ItemId, string BuyerId, string Text)
{
    public string Status { get; set; } = "UNANSWERED";

    public string? Answer { get; set; }
}

/// <summary>A post-sale message of a pack; <see cref="Files"/> are the ids of its attachments (<see cref="FakeMercadoLivre.Files"/>).</summary>
public sealed record FakePackMessage(string Id, string FromUserId, string ToUserId, string Text, string Status = "available", string Moderation = "clean")
{
    public IReadOnlyList<string> Files { get; init; } = [];
}

/// <summary>An attachment Mercado Livre keeps: uploaded by the seller, or a buyer's.</summary>
public sealed record FakeFile(string OriginalName, string ContentType, byte[] Content);

/// <summary>
/// A local HTTPS stand-in for Mercado Livre's API in its documented shapes: <c>oauth/token</c> with single-use,
/// rotating refresh tokens (a spent one is <c>invalid_grant</c>), <c>users/me</c>, questions (<c>api_version=4</c>),
/// items, answers (≤ 2,000 characters), post-sale pack messages (≤ 350), and <c>missed_feeds</c>. Every other call
/// needs a bearer access token the fake issued and has not expired. Tests script 429s with <see cref="FailNext"/>.
/// </summary>
public sealed class FakeMercadoLivre : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<MercadoLivreRequest> _requests = new();
    private readonly ConcurrentQueue<(Func<HttpRequest, bool> When, int Status, JsonNode Body, int? RetryAfter)> _failures = new();
    private readonly ConcurrentDictionary<string, (string Seller, DateTimeOffset Expires)> _accessTokens = new();
    private readonly ConcurrentBag<string> _spentRefreshTokens = [];
    private readonly ConcurrentBag<string> _refreshAttempts = [];
    private readonly object _grant = new();
    private long _next = 1000;

    private FakeMercadoLivre(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    public string ApiBaseUrl => BaseUri.ToString().TrimEnd('/');

    public IReadOnlyList<MercadoLivreRequest> Requests => [.. _requests];

    /// <summary>Every refresh token presented to <c>oauth/token</c>, spent or not, in no particular order.</summary>
    public IReadOnlyList<string> RefreshAttempts => [.. _refreshAttempts];

    /// <summary>How long issued access tokens last (<c>expires_in</c>); Mercado Livre's is 6 hours.</summary>
    public int ExpiresInSeconds { get; set; } = 21600;

    public ConcurrentDictionary<string, FakeSeller> Sellers { get; } = new();

    public ConcurrentDictionary<long, FakeQuestion> Questions { get; } = new();

    /// <summary>Authorization codes a consent would hand out: code → seller.</summary>
    public ConcurrentDictionary<string, string> Codes { get; } = new();

    public ConcurrentDictionary<string, ConcurrentQueue<FakePackMessage>> Packs { get; } = new();

    /// <summary>Pack id → conversation_status.status (<c>active</c>, <c>blocked</c>).</summary>
    public ConcurrentDictionary<string, string> PackStatus { get; } = new();

    /// <summary>Attachments by id (<c>filename</c>): <c>GET /messages/attachments/{id}</c> serves them, <c>POST /messages/attachments</c> adds one.</summary>
    public ConcurrentDictionary<string, FakeFile> Files { get; } = new();

    /// <summary>What <c>missed_feeds</c> lists for an application id.</summary>
    public ConcurrentDictionary<string, JsonArray> MissedFeeds { get; } = new();

    public static async Task<FakeMercadoLivre> StartAsync(TestCertificateAuthority authority)
    {
        var app = LocalHttpsServer.Create(authority);
        var fake = new FakeMercadoLivre(app);
        app.Run(fake.HandleAsync);
        fake.BaseUri = await LocalHttpsServer.StartAsync(app);
        return fake;
    }

    public FakeSeller AddSeller()
    {
        var seller = new FakeSeller(NewId(), "TG-" + Guid.NewGuid().ToString("N"));
        Sellers[seller.Id] = seller;
        return seller;
    }

    public FakeQuestion AddQuestion(FakeSeller seller, string text, string itemId = "MLB1234567890", string buyerId = "555000111")
    {
        var question = new FakeQuestion(long.Parse(NewId(), System.Globalization.CultureInfo.InvariantCulture), seller.Id, itemId, buyerId, text);
        Questions[question.Id] = question;
        return question;
    }

    public FakePackMessage AddBuyerMessage(FakeSeller seller, string packId, string buyerId, string text, string moderation = "clean", params FakeFile[] files)
    {
        var ids = files.Select(f => AddFile(buyerId, f)).ToList();
        var message = new FakePackMessage(Guid.NewGuid().ToString("N"), buyerId, seller.Id, text, Moderation: moderation) { Files = ids };
        Packs.GetOrAdd(packId, _ => new()).Enqueue(message);
        return message;
    }

    private string AddFile(string userId, FakeFile file)
    {
        var id = $"{userId}_{Guid.NewGuid()}{Path.GetExtension(file.OriginalName)}";
        Files[id] = file;
        return id;
    }

    public void FailNext(Func<HttpRequest, bool> when, int status, JsonNode body, int? retryAfterSeconds = null) => _failures.Enqueue((when, status, body, retryAfterSeconds));

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private string NewId() => Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture) + Random.Shared.Next(100000, 999999);

    private static JsonObject Error(int status, string error, string message) => new() { ["message"] = message, ["error"] = error, ["status"] = status, ["cause"] = new JsonArray() };

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        IFormCollection? form = null;
        if (request.HasFormContentType)
        {
            form = await request.ReadFormAsync();
            body = string.Join('&', form.Select(f => $"{f.Key}={(f.Key is "client_secret" or "refresh_token" or "code" ? "***" : f.Value.ToString())}"));
        }
        else
        {
            using var reader = new StreamReader(request.Body);
            body = await reader.ReadToEndAsync();
        }

        var authorization = request.Headers.Authorization.ToString();
        var token = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : null;
        if (request.Method == "GET" && request.Path.StartsWithSegments("/messages/attachments", out var rest) && Scripted(request) is null)
        {
            await DownloadAsync(context, token, rest.Value!.Trim('/'));
            return;
        }

        var (status, json, retryAfter) = Scripted(request) ?? Answer(request, form, token, body);
        _requests.Enqueue(new MercadoLivreRequest(request.Method, request.Path.Value ?? "", request.QueryString.Value ?? "", token, status, body));
        context.Response.StatusCode = status;
        if (retryAfter is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(json.ToJsonString());
    }

    /// <summary>An attachment's bytes, for the seller's token only, with <c>tag=post_sale</c> and a <c>site_id</c>.</summary>
    private async Task DownloadAsync(HttpContext context, string? token, string id)
    {
        var request = context.Request;
        var allowed = token is not null && _accessTokens.TryGetValue(token, out var holder) && holder.Expires > DateTimeOffset.UtcNow;
        var status = !allowed ? 401 : request.Query["tag"] != "post_sale" || string.IsNullOrEmpty(request.Query["site_id"]) ? 400 : Files.TryGetValue(id, out _) ? 200 : 404;
        _requests.Enqueue(new MercadoLivreRequest(request.Method, request.Path.Value ?? "", request.QueryString.Value ?? "", token, status, ""));
        context.Response.StatusCode = status;
        if (status == 200)
        {
            context.Response.ContentType = Files[id].ContentType;
            await context.Response.Body.WriteAsync(Files[id].Content);
        }
        else
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            await context.Response.WriteAsync(Error(status, "bad_request", "attachment not readable").ToJsonString());
        }
    }

    private (int, JsonNode, int?)? Scripted(HttpRequest request)
    {
        lock (_failures)
        {
            var kept = new List<(Func<HttpRequest, bool>, int, JsonNode, int?)>();
            (int, JsonNode, int?)? taken = null;
            while (_failures.TryDequeue(out var failure))
            {
                if (taken is null && failure.When(request))
                {
                    taken = (failure.Status, failure.Body, failure.RetryAfter);
                }
                else
                {
                    kept.Add(failure);
                }
            }

            kept.ForEach(_failures.Enqueue);
            return taken;
        }
    }

    private (int, JsonNode, int?) Answer(HttpRequest request, IFormCollection? form, string? token, string body)
    {
        var segments = (request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (request.Method == "POST" && segments is ["oauth", "token"])
        {
            return Token(form);
        }

        if (token is null || !_accessTokens.TryGetValue(token, out var holder) || holder.Expires <= DateTimeOffset.UtcNow)
        {
            return (401, Error(401, "unauthorized", "invalid access token"), null);
        }

        var seller = holder.Seller;
        return (request.Method, segments) switch
        {
            ("GET", ["users", "me"]) => (200, new JsonObject { ["id"] = long.Parse(seller, System.Globalization.CultureInfo.InvariantCulture), ["nickname"] = "LOJA" + seller }, null),
            ("GET", ["questions", var id]) => GetQuestion(request, seller, id),
            ("GET", ["items", var item]) => (200, new JsonObject { ["id"] = item, ["title"] = "Furadeira de impacto 650W", ["permalink"] = $"https://produto.mercadolivre.com.br/{item}" }, null),
            ("POST", ["answers"]) => PostAnswer(seller, JsonNode.Parse(body)!),
            ("GET", ["messages", "packs", var pack, "sellers", var s]) => GetPack(request, seller, pack, s),
            ("POST", ["messages", "packs", var pack, "sellers", var s]) => PostPackMessage(request, seller, pack, s, JsonNode.Parse(body)!),
            ("POST", ["messages", "attachments"]) => Upload(request, seller, form),
            ("GET", ["messages", var id]) => GetMessage(id),
            ("GET", ["missed_feeds"]) => (200, new JsonObject { ["messages"] = MissedFeeds.GetValueOrDefault(request.Query["app_id"].ToString())?.DeepClone() ?? new JsonArray() }, null),
            _ => (404, Error(404, "not_found", $"no fake route for {request.Method} {request.Path}"), null),
        };
    }

    private (int, JsonNode, int?) Token(IFormCollection? form)
    {
        var grant = form?["grant_type"].ToString();
        lock (_grant)
        {
            string? seller;
            if (grant == "refresh_token")
            {
                var presented = form!["refresh_token"].ToString();
                _refreshAttempts.Add(presented);
                seller = Sellers.Values.FirstOrDefault(s => s.RefreshToken == presented)?.Id;
            }
            else if (grant == "authorization_code")
            {
                seller = Codes.TryRemove(form!["code"].ToString(), out var s) ? s : null;
            }
            else
            {
                return (400, Error(400, "unsupported_grant_type", "grant_type not supported"), null);
            }

            if (seller is null)
            {
                return (400, Error(400, "invalid_grant", "Error validating grant. Your authorization code or refresh token may be expired or it was already used"), null);
            }

            var fakeSeller = Sellers[seller];
            _spentRefreshTokens.Add(fakeSeller.RefreshToken);
            fakeSeller.RefreshToken = "TG-" + Guid.NewGuid().ToString("N");
            var access = "APP_USR-" + Guid.NewGuid().ToString("N");
            _accessTokens[access] = (seller, DateTimeOffset.UtcNow.AddSeconds(ExpiresInSeconds));
            return (200, new JsonObject
            {
                ["access_token"] = access,
                ["token_type"] = "Bearer",
                ["expires_in"] = ExpiresInSeconds,
                ["scope"] = "offline_access read write",
                ["user_id"] = long.Parse(seller, System.Globalization.CultureInfo.InvariantCulture),
                ["refresh_token"] = fakeSeller.RefreshToken,
            }, null);
        }
    }

    private (int, JsonNode, int?) GetQuestion(HttpRequest request, string seller, string id)
    {
        if (request.Query["api_version"] != "4")
        {
            return (400, Error(400, "bad_request", "api_version=4 expected by this fake"), null);
        }

        if (!long.TryParse(id, out var number) || !Questions.TryGetValue(number, out var q) || q.SellerId != seller)
        {
            return (404, Error(404, "not_found", $"Question {id} not found"), null);
        }

        return (200, new JsonObject
        {
            ["id"] = q.Id,
            ["seller_id"] = long.Parse(q.SellerId, System.Globalization.CultureInfo.InvariantCulture),
            ["text"] = q.Text,
            ["status"] = q.Status,
            ["item_id"] = q.ItemId,
            ["date_created"] = "2026-11-30T10:00:00.000-04:00",
            ["hold"] = false,
            ["deleted_from_listing"] = false,
            ["answer"] = q.Answer is null ? null : new JsonObject { ["text"] = q.Answer, ["status"] = "ACTIVE", ["date_created"] = "2026-11-30T11:00:00.000-04:00" },
            ["from"] = new JsonObject { ["id"] = long.Parse(q.BuyerId, System.Globalization.CultureInfo.InvariantCulture) },
        }, null);
    }

    private (int, JsonNode, int?) PostAnswer(string seller, JsonNode body)
    {
        var text = body["text"]?.GetValue<string>() ?? "";
        if (!Questions.TryGetValue(body["question_id"]!.GetValue<long>(), out var q) || q.SellerId != seller)
        {
            return (404, Error(404, "not_found", "Question not found"), null);
        }

        if (text.Length > 2000)
        {
            return (400, Error(400, "bad_request", "The answer text is longer than 2000 characters"), null);
        }

        lock (q)
        {
            if (q.Status != "UNANSWERED")
            {
                return (400, Error(400, "bad_request", "Question already answered"), null);
            }

            q.Status = "ANSWERED";
            q.Answer = text;
        }

        return (200, new JsonObject { ["question_id"] = q.Id, ["text"] = text, ["status"] = "ACTIVE" }, null);
    }

    private (int, JsonNode, int?) GetMessage(string id)
    {
        var pack = Packs.FirstOrDefault(p => p.Value.Any(m => m.Id == id)).Key;
        return pack is null
            ? (404, Error(404, "not_found", "message not found"), null)
            : (200, new JsonObject { ["messages"] = new JsonArray(new JsonObject
            {
                ["id"] = id,
                ["message_resources"] = new JsonArray(new JsonObject { ["id"] = pack, ["name"] = "packs" }, new JsonObject { ["id"] = "0", ["name"] = "sellers" }),
            }) }, null);
    }

    private (int, JsonNode, int?) GetPack(HttpRequest request, string seller, string pack, string sellerInPath)
    {
        if (sellerInPath != seller || request.Query["tag"] != "post_sale")
        {
            return (403, Error(403, "forbidden", "not this seller's pack, or no tag=post_sale"), null);
        }

        var messages = new JsonArray([.. (Packs.GetValueOrDefault(pack) ?? new()).Select(m => (JsonNode)new JsonObject
        {
            ["id"] = m.Id,
            ["from"] = new JsonObject { ["user_id"] = long.Parse(m.FromUserId, System.Globalization.CultureInfo.InvariantCulture) },
            ["to"] = new JsonObject { ["user_id"] = long.Parse(m.ToUserId, System.Globalization.CultureInfo.InvariantCulture) },
            ["status"] = m.Status,
            ["text"] = m.Text,
            ["message_date"] = new JsonObject { ["created"] = "2026-11-30T10:00:00.000Z" },
            ["message_moderation"] = new JsonObject { ["status"] = m.Moderation },
            ["site_id"] = "MLB",
            ["message_attachments"] = new JsonArray([.. m.Files.Select(f => (JsonNode)new JsonObject
            {
                ["filename"] = f,
                ["original_filename"] = Files[f].OriginalName,
                ["type"] = Files[f].ContentType,
                ["size"] = Files[f].Content.Length,
            })]),
        })]);
        return (200, new JsonObject
        {
            ["paging"] = new JsonObject { ["limit"] = 10, ["offset"] = 0, ["total"] = messages.Count },
            ["conversation_status"] = new JsonObject { ["status"] = PackStatus.GetValueOrDefault(pack) ?? "active", ["substatus"] = null },
            ["messages"] = messages,
        }, null);
    }

    private (int, JsonNode, int?) PostPackMessage(HttpRequest request, string seller, string pack, string sellerInPath, JsonNode body)
    {
        var text = body["text"]?.GetValue<string>() ?? "";
        if (sellerInPath != seller || request.Query["tag"] != "post_sale" || body["from"]?["user_id"]?.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture) != seller)
        {
            return (403, Error(403, "forbidden", "not this seller's pack, or no tag=post_sale"), null);
        }

        if (text.Length > 350)
        {
            return (400, Error(400, "bad_request", "text is longer than 350 characters"), null);
        }

        var files = (body["attachments"] as JsonArray ?? []).Select(a => a!.GetValue<string>()).ToList();
        if (files.Any(f => !Files.ContainsKey(f)))
        {
            return (400, Error(400, "bad_request", "unknown attachment"), null);
        }

        var message = new FakePackMessage(Guid.NewGuid().ToString("N"), seller, body["to"]!["user_id"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture), text) { Files = files };
        Packs.GetOrAdd(pack, _ => new()).Enqueue(message);
        return (201, new JsonObject { ["id"] = message.Id, ["status"] = "available", ["moderation_status"] = "clean" }, null);
    }

    private (int, JsonNode, int?) Upload(HttpRequest request, string seller, IFormCollection? form)
    {
        if (request.Query["tag"] != "post_sale" || string.IsNullOrEmpty(request.Query["site_id"]) || form?.Files.GetFile("file") is not { } file)
        {
            return (400, Error(400, "bad_request", "multipart field file, tag=post_sale and site_id expected"), null);
        }

        using var content = new MemoryStream();
        file.CopyTo(content);
        return (200, new JsonObject { ["id"] = AddFile(seller, new FakeFile(file.FileName, file.ContentType, content.ToArray())) }, null);
    }
}
