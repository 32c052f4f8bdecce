using System.Net;
using System.Text.Json.Nodes;
using Omni.Tests.Hosting;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Operations;

public sealed class OperationsTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task HealthIsOkWhenStorageAnswers()
    {
        var health = await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/health"), HttpStatusCode.OK);

        Assert.Equal("ok", health["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task HealthIsUnavailableWhenStorageDoesNot()
    {
        var deadPort = Repository.FreeTcpPort();
        await using var app = new OmniApp(azurite, new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString.Replace($":{azurite.TablePort}/", $":{deadPort}/", StringComparison.Ordinal),
            ["Omni:Storage:ProvisionOnStart"] = "false",
        });

        var response = await app.Anonymous().GetAsync("/api/health");

        await Arrange.ReadAsync(response, HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task TheOpenApiDocumentIsVersion31AndDescribesEveryRoute()
    {
        var document = await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/openapi/v1.json"), HttpStatusCode.OK);

        Assert.StartsWith("3.1", document["openapi"]!.GetValue<string>());
        var paths = document["paths"]!.AsObject();
        var missing = RouteCatalog.DescribedRoutes(_app)
            .Where(r => !r.Pattern.StartsWith("/api/openapi", StringComparison.Ordinal) && !r.Pattern.StartsWith("/api/docs", StringComparison.Ordinal))
            // The document names a parameter without its route constraint ({index:int} is {index}).
            .Where(r => paths[System.Text.RegularExpressions.Regex.Replace(r.Pattern, @"\{([^}:]+):[^}]+\}", "{$1}")] is not JsonObject path
                || path[r.Method.ToLowerInvariant()] is null)
            .Select(r => $"{r.Method} {r.Pattern}")
            .ToList();
        Assert.Empty(missing);
        Assert.NotNull(document["components"]!["securitySchemes"]!["bearer"]);
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesRequestAndResponseBodies()
    {
        var document = await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/openapi/v1.json"), HttpStatusCode.OK);

        var create = document["paths"]!["/api/companies/{companyId}/channels"]!["post"]!;
        Assert.NotNull(create["requestBody"]!["content"]!["application/json"]!["schema"]);
        Assert.NotNull(create["responses"]!["201"]!["content"]!["application/json"]!["schema"]);
        Assert.NotNull(create["responses"]!["400"]);
        // A management key or the admin that leaves out ?channelId= on the audit routes gets a 400 naming it.
        Assert.NotNull(document["paths"]!["/api/audit/deliveries"]!["get"]!["responses"]!["400"]);
        Assert.NotNull(document["paths"]!["/api/audit/messages"]!["get"]!["responses"]!["400"]);
    }

    [Fact]
    public async Task TheInteractiveDocsPageIsServed()
    {
        var response = await _app.Anonymous().GetAsync("/api/docs/");
        var script = await _app.Anonymous().GetAsync("/api/docs/scalar.js");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        // Scalar resolves this against the site root, so the page loads /api/openapi/v1.json.
        Assert.Contains("\"url\":\"api/openapi/v1.json\"", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 100_000, "The Scalar bundle is served from the package, not a CDN.");
    }
}
