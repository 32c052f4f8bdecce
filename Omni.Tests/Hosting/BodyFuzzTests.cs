using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Channels;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Hosting;

/// <summary>
/// Generated malformed bodies (<see cref="MalformedBodies"/>, fixed seed) on every route that binds a JSON body:
/// never a 5xx, every 4xx a problem document with a detail. The default suite sends a few hundred per route;
/// scripts/fuzz.sh raises OMNI_FUZZ_BODIES_PER_ROUTE for the full corpus and writes the figures to OMNI_FUZZ_REPORT.
/// </summary>
public sealed class BodyFuzzTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int Seed = 20261201;
    private const int DefaultBodiesPerRoute = 300;

    // Sending messages and receive hooks queue work: on queues of its own, so no other test app takes it.
    private readonly OmniApp _app = new(azurite, IsolatedQueues.Settings());

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private sealed record Target(string ChannelType, string Url);

    private sealed record FuzzCase(int Index, string Route, string Url, HttpClient Client, MalformedBody Body);

    [Fact]
    public async Task MalformedBodiesOnEveryRouteThatTakesABodyNeverGetAServerError()
    {
        var perRoute = int.TryParse(Environment.GetEnvironmentVariable("OMNI_FUZZ_BODIES_PER_ROUTE"), out var n) && n > 0 ? n : DefaultBodiesPerRoute;
        var channel = await _app.OmniChannelAsync();
        var tenant = channel.Tenant;
        var email = (await _app.ChannelAsync(tenant, "email", ChannelSamples.Valid["email"]))["id"]!.GetValue<string>();
        var conversation = await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook",
            new { externalId = "fuzz-seed", contact = new { externalId = "c-fuzz" }, text = "hello" }), HttpStatusCode.Accepted);
        var values = new Dictionary<string, string>
        {
            ["companyId"] = tenant.CompanyId,
            ["channelId"] = channel.ChannelId,
            ["conversationId"] = conversation["conversationId"]!.GetValue<string>(),
        };
        var routes = RouteCatalog.BodyRoutes(_app);
        var channelKey = _app.As(channel.ApiKey);
        var admin = _app.Admin();

        var cases = new List<FuzzCase>();
        foreach (var (method, pattern) in routes)
        {
            var route = $"{method} {pattern}";
            var random = new Random(Seed ^ StableHash(route));
            var client = pattern.StartsWith("/api/receive_hook", StringComparison.Ordinal) || pattern.StartsWith("/api/audit", StringComparison.Ordinal) ? channelKey : admin;
            for (var i = 0; i < perRoute; i++)
            {
                // A channel PUT goes to an omni or an e-mail channel, with that type's settings to spoil.
                var target = pattern.EndsWith("/channels/{channelId}", StringComparison.Ordinal) && random.Next(2) == 0
                    ? new Target("email", RouteCatalog.Fill(pattern, new Dictionary<string, string>(values) { ["channelId"] = email }))
                    : new Target(random.Next(3) == 0 ? Pick(random, ChannelSamples.Valid.Keys.ToArray()) : "omni", RouteCatalog.Fill(pattern, values));
                cases.Add(new(i, route, target.Url, client, MalformedBodies.Generate(random, Template(method, pattern, target, tenant, i), i)));
            }
        }

        var failures = new ConcurrentBag<string>();
        var tally = new ConcurrentDictionary<(string Route, string Class), int>();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, cancellationToken) =>
        {
            var content = new ByteArrayContent(c.Body.Bytes);
            content.Headers.ContentType = null;
            if (c.Body.ContentType is not null)
            {
                // Unvalidated: some of the generated content types are not well-formed either.
                content.Headers.TryAddWithoutValidation("Content-Type", c.Body.ContentType);
            }

            using var request = new HttpRequestMessage(new HttpMethod(c.Route[..c.Route.IndexOf(' ', StringComparison.Ordinal)]), c.Url) { Content = content };
            HttpResponseMessage response;
            try
            {
                response = await c.Client.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                // An oversize body is read and dropped before its 413, so even that one gets an answer, never a reset.
                failures.Add($"{c.Route} case {c.Index} ({c.Body.Kind}): no answer: {e.Message} {e.InnerException?.Message}");
                return;
            }

            using var _ = response;
            var status = (int)response.StatusCode;
            tally.AddOrUpdate((c.Route, $"{status / 100}xx"), 1, (_, count) => count + 1);
            tally.AddOrUpdate((c.Route, status.ToString(System.Globalization.CultureInfo.InvariantCulture)), 1, (_, count) => count + 1);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (status >= 500)
            {
                failures.Add($"{c.Route} case {c.Index} ({c.Body.Kind}, {c.Body.ContentType}): {status} {text}");
            }
            else if (status >= 400 && (response.Content.Headers.ContentType?.MediaType != "application/problem+json" || !HasDetail(text)))
            {
                failures.Add($"{c.Route} case {c.Index} ({c.Body.Kind}): {status} without a problem document with a detail: {text}");
            }
        });

        WriteReport(routes.Select(r => $"{r.Method} {r.Pattern}").ToList(), perRoute, tally);
        Assert.True(failures.IsEmpty, $"{failures.Count} failures, e.g.:\n{string.Join("\n", failures.Take(15))}");
        // The generator must reach every body route and both sides: bodies rejected and bodies accepted.
        Assert.Contains(routes, r => r is ("POST", "/api/receive_hook"));
        Assert.Contains(routes, r => r is ("PUT", "/api/companies/{companyId}/channels/{channelId}"));
        Assert.True(tally.Keys.Any(k => k.Class == "2xx") && tally.Keys.Any(k => k.Class == "400") && tally.Keys.Any(k => k.Class == "415"),
            string.Join(", ", tally.Select(p => $"{p.Key}: {p.Value}")));
    }

    /// <summary>A valid body for the route, so that what the generator breaks is the only thing wrong with it.</summary>
    private static JsonObject Template(string method, string pattern, Target target, TestTenant tenant, int i) => (method, pattern) switch
    {
        ("POST", "/api/companies") => new() { ["name"] = $"Fuzz {i}", ["timeZone"] = "America/Sao_Paulo" },
        (_, "/api/companies/{companyId}/management-keys") => new() { ["name"] = "fuzz", ["scopes"] = new JsonArray("channels:read", "audit:read") },
        (_, _) when pattern.StartsWith("/api/companies/{companyId}/services", StringComparison.Ordinal) => new() { ["name"] = $"Fila {i}", ["voiceTarget"] = null },
        ("POST", "/api/companies/{companyId}/channels") => new()
        {
            ["type"] = target.ChannelType, ["name"] = $"Canal {i}", ["serviceId"] = tenant.ServiceId, ["settings"] = Settings(target.ChannelType),
        },
        ("PUT", "/api/companies/{companyId}/channels/{channelId}") => new()
        {
            ["name"] = $"Canal {i}", ["serviceId"] = tenant.ServiceId, ["settings"] = Settings(target.ChannelType == "email" ? "email" : "omni"),
        },
        ("POST", "/api/receive_hook") => new()
        {
            ["externalId"] = $"fuzz-{i}",
            ["contact"] = new JsonObject { ["externalId"] = $"c-{i % 20}", ["name"] = "Maria", ["email"] = "m@example.com", ["phone"] = "+5511999990000" },
            ["conversationExternalId"] = $"t-{i % 5}",
            ["text"] = "olá",
            ["attachments"] = new JsonArray(new JsonObject { ["fileName"] = "a.txt", ["contentType"] = "text/plain", ["contentBase64"] = "aGVsbG8=" }),
            ["metadata"] = new JsonObject { ["order"] = "42", ["total"] = 10.5, ["paid"] = true },
        },
        (_, _) when pattern.EndsWith("/messages", StringComparison.Ordinal) => new()
        {
            ["text"] = "olá",
            ["attachments"] = new JsonArray(new JsonObject { ["fileName"] = "a.txt", ["contentType"] = "text/plain", ["contentBase64"] = "aGVsbG8=" }),
        },
        // Any other body route (api-keys, and those added later): a name and something nested to spoil.
        _ => new() { ["name"] = $"fuzz {i}", ["options"] = new JsonObject { ["tags"] = new JsonArray("a", "b") } },
    };

    private static JsonObject Settings(string type) => JsonSerializer.SerializeToNode(ChannelSamples.Valid[type])!.AsObject();

    private static bool HasDetail(string text)
    {
        try
        {
            return JsonNode.Parse(text)?["detail"] is JsonValue;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void WriteReport(IReadOnlyList<string> routes, int perRoute, ConcurrentDictionary<(string Route, string Class), int> tally)
    {
        if (Environment.GetEnvironmentVariable("OMNI_FUZZ_REPORT") is not { Length: > 0 } path)
        {
            return;
        }

        int Count(string route, string cls) => tally.TryGetValue((route, cls), out var count) ? count : 0;
        var lines = new List<string> { "| route | bodies | 2xx | 4xx | 5xx |", "|---|---|---|---|---|" };
        lines.AddRange(routes.Select(r => $"| `{r}` | {perRoute} | {Count(r, "2xx")} | {Count(r, "4xx")} | {Count(r, "5xx")} |"));
        lines.Add($"| all | {perRoute * routes.Count} | {routes.Sum(r => Count(r, "2xx"))} | {routes.Sum(r => Count(r, "4xx"))} | {routes.Sum(r => Count(r, "5xx"))} |");
        File.WriteAllLines(path, lines);
    }

    private static int StableHash(string text) => text.Aggregate(17, (hash, c) => unchecked((hash * 31) + c));

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
