using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Hosting;

/// <summary>Every route, from the app's own endpoint list: no credential is 401, a credential without the scope is 403.</summary>
public sealed class AuthorizationMatrixTests(AzuriteFixture azurite) : IAsyncLifetime
{
    // Provider webhooks carry the provider's signature, not our credentials (Meta.MetaWebhookTests covers them).
    // The webchat visitor API is public: its own website and session tokens are checked by WebchatSessionTests.
    private static readonly string[] Anonymous = ["/api/health", "/api/openapi", "/api/docs", "/api/providers/", "/api/webchat/"];
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task EveryProtectedRouteIsUnauthorizedWithoutAValidCredential()
    {
        var channel = await _app.OmniChannelAsync();
        var values = Values(channel);
        var routes = RouteCatalog.ApiRoutes(_app).Where(r => !Anonymous.Any(a => r.Pattern.StartsWith(a, StringComparison.Ordinal))).ToList();
        Assert.True(routes.Count >= 17, $"Expected the API's routes, found {routes.Count}.");

        var failures = new List<string>();
        foreach (var (method, pattern) in routes)
        {
            foreach (var (who, client) in new[] { ("no credential", _app.Anonymous()), ("a made-up key", _app.As("omni_mk_" + new string('x', 43))) })
            {
                var response = await client.SendAsync(Request(method, pattern, values));
                if (response.StatusCode != HttpStatusCode.Unauthorized || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    failures.Add($"{method} {pattern} with {who}: {(int)response.StatusCode}");
                }
                else if (!response.Headers.WwwAuthenticate.Any(h => h.Scheme == "Bearer"))
                {
                    failures.Add($"{method} {pattern} with {who}: 401 without WWW-Authenticate: Bearer");
                }
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public async Task EveryScopedCompanyRouteIsForbiddenToAKeyOfTheSameCompanyWithoutTheScope()
    {
        var channel = await _app.OmniChannelAsync();
        var values = Values(channel);
        // A key of the right company holding one scope no company route below needs.
        var weakKey = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "voice:write");
        var routes = RouteCatalog.ApiRoutes(_app)
            .Where(r => r.Pattern.StartsWith("/api/companies/{companyId}", StringComparison.Ordinal))
            .Where(r => !(r.Method == "GET" && r.Pattern == "/api/companies/{companyId}")) // any key of the company reads it
            .Where(r => !r.Pattern.Contains("/numbers", StringComparison.Ordinal) && !r.Pattern.Contains("/ivrs", StringComparison.Ordinal) && !r.Pattern.Contains("/audio", StringComparison.Ordinal) && !r.Pattern.Contains("/calls", StringComparison.Ordinal))
            .ToList();

        var failures = new List<string>();
        foreach (var (method, pattern) in routes)
        {
            var response = await _app.As(weakKey).SendAsync(Request(method, pattern, values));
            if (response.StatusCode != HttpStatusCode.Forbidden || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{method} {pattern}: {(int)response.StatusCode}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public async Task AnXApiKeyHeaderIsACredentialOnlyOnTheIntegratorRoutes()
    {
        var channel = await _app.OmniChannelAsync();
        var values = Values(channel);
        var integrator = new[] { "/api/receive_hook", "/api/audit/" };
        var routes = RouteCatalog.ApiRoutes(_app).Where(r => !Anonymous.Any(a => r.Pattern.StartsWith(a, StringComparison.Ordinal))).ToList();

        var failures = new List<string>();
        foreach (var (method, pattern) in routes)
        {
            var client = _app.Anonymous();
            client.DefaultRequestHeaders.Add("X-Api-Key", channel.ApiKey);
            var response = await client.SendAsync(Request(method, pattern, values));
            var accepted = response.StatusCode != HttpStatusCode.Unauthorized;
            if (accepted != integrator.Any(p => pattern.StartsWith(p, StringComparison.Ordinal)))
            {
                failures.Add($"{method} {pattern}: {(int)response.StatusCode}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public async Task AnyKeyOfTheCompanyReadsTheCompany()
    {
        var channel = await _app.OmniChannelAsync();
        var weakKey = await _app.ManagementKeyAsync(channel.Tenant.CompanyId, "voice:write");

        var company = await Arrange.ReadAsync(await _app.As(weakKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}"), HttpStatusCode.OK);

        Assert.Equal(channel.Tenant.CompanyId, company["id"]!.GetValue<string>());
    }

    private static Dictionary<string, string> Values(TestOmniChannel channel) => new()
    {
        ["companyId"] = channel.Tenant.CompanyId,
        ["channelId"] = channel.ChannelId,
        ["serviceId"] = channel.Tenant.ServiceId,
    };

    private static HttpRequestMessage Request(string method, string pattern, IReadOnlyDictionary<string, string> values)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), RouteCatalog.Fill(pattern, values));
        if (method is "POST" or "PUT")
        {
            request.Content = JsonContent.Create(new { name = "x" });
        }

        return request;
    }
}
