using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Operations;

/// <summary>The OpenAPI document as tools nobody here wrote read it: Redocly's linter, and its promises per operation.</summary>
public sealed partial class OpenApiDocumentTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task RedoclysLinterFindsNoErrorInTheServedDocument()
    {
        var redocly = Path.Combine(Repository.Root, "node_modules", ".bin", "redocly");
        Assert.True(File.Exists(redocly), $"Redocly's CLI (npm @redocly/cli) is not installed at {redocly}: run 'npm ci' (scripts/test.sh does).");
        var folder = Directory.CreateTempSubdirectory("omni-openapi-");
        try
        {
            var file = Path.Combine(folder.FullName, "v1.json");
            await File.WriteAllTextAsync(file, await _app.Anonymous().GetStringAsync("/api/openapi/v1.json"));

            var (exit, output, error) = await RunAsync(redocly, ["lint", file, "--config", Path.Combine(Repository.Root, "redocly.yaml"), "--format", "json"]);

            Assert.True(output.Contains('{', StringComparison.Ordinal), $"redocly lint wrote no report (exit {exit}):\n{output}\n{error}");
            var problems = JsonNode.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..])!["problems"]!.AsArray();
            var errors = problems.Where(p => p!["severity"]!.GetValue<string>() == "error")
                .Select(p => $"{p!["ruleId"]}: {p["message"]} at {p["location"]![0]!["pointer"]}").ToList();
            Assert.True(errors.Count == 0, "redocly lint found errors:\n" + string.Join('\n', errors));
            Assert.True(exit == 0, $"redocly lint exited {exit}:\n{error}");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task EveryOperationHasAUniqueOperationIdItsPathParametersAndProblemDocumentsForItsErrors()
    {
        var document = await DocumentAsync();
        var ids = new List<string>();
        var failures = new List<string>();
        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            var id = operation["operationId"]?.GetValue<string>();
            if (id is null || !CamelCase().IsMatch(id))
            {
                failures.Add($"{name}: operationId '{id}' is not camelCase");
            }

            ids.Add(id ?? "");
            var parameters = operation["parameters"]?.AsArray().Select(p => p!.AsObject()).Where(p => p["in"]!.GetValue<string>() == "path").ToList() ?? [];
            foreach (Match match in Regex.Matches(path, @"\{([^}]+)\}"))
            {
                var parameter = parameters.FirstOrDefault(p => p["name"]!.GetValue<string>() == match.Groups[1].Value);
                if (parameter?["required"]?.GetValue<bool>() != true || parameter["schema"]?["type"] is null)
                {
                    failures.Add($"{name}: path parameter {match.Value} is not declared as required with a type");
                }
            }

            var responses = operation["responses"]!.AsObject();
            var requiresCredential = operation["security"]!.AsArray().Any(r => r!.AsObject().Count > 0);
            if (requiresCredential && responses["401"] is null)
            {
                failures.Add($"{name}: takes a credential but has no 401");
            }

            if (path != "/api/health" && !responses.Any(r => r.Key.StartsWith('4')))
            {
                failures.Add($"{name}: no 4xx response");
            }

            foreach (var (status, response) in responses.Where(r => int.Parse(r.Key) >= 400))
            {
                if (response!["content"]?["application/problem+json"]?["schema"] is null)
                {
                    failures.Add($"{name}: {status} is not an application/problem+json problem document");
                }
            }
        }

        Assert.Empty(failures);
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(document["tags"]!.AsArray(), t => Assert.False(string.IsNullOrWhiteSpace(t!["description"]?.GetValue<string>()), $"Tag {t!["name"]} has no description."));
    }

    [Fact]
    public async Task OperationsNameTheCredentialsTheirAuthorizationTakes()
    {
        var document = await DocumentAsync();
        string Security(string path, string method) => document["paths"]![path]![method]!["security"]!.ToJsonString();

        Assert.Equal("""[{"adminToken":[]},{"managementKey":["channels:write"]}]""", Security("/api/companies/{companyId}/channels", "post"));
        Assert.Equal("""[{"adminToken":[]}]""", Security("/api/companies", "post"));
        Assert.Equal("""[{"adminToken":[]}]""", Security("/api/companies/{companyId}/management-keys", "post"));
        Assert.Equal("""[{"channelKey":[]},{"apiKeyHeader":[]}]""", Security("/api/receive_hook", "post"));
        Assert.Equal("""[{"adminToken":[]},{"managementKey":["audit:read"]},{"channelKey":[]},{"apiKeyHeader":[]}]""", Security("/api/audit/deliveries", "get"));
        Assert.Equal("""[{"botKey":[]}]""", Security("/api/bots/conversations/{conversationId}/messages", "post"));
        Assert.Equal("""[{"webchatSession":[]}]""", Security("/api/webchat/sessions/messages", "post"));
        Assert.Equal("""[{}]""", Security("/api/health", "get"));
        var schemes = document["components"]!["securitySchemes"]!.AsObject();
        Assert.All(new[] { "adminToken", "managementKey", "channelKey", "botKey", "apiKeyHeader", "webchatSession" },
            s => Assert.False(string.IsNullOrWhiteSpace(schemes[s]?["description"]?.GetValue<string>()), $"Scheme {s} is not explained."));
        var companyId = document["paths"]!["/api/companies/{companyId}/channels"]!["post"]!["parameters"]!.AsArray()[0]!;
        Assert.Equal("companyId", companyId["name"]!.GetValue<string>());
        Assert.Equal("createChannel", document["paths"]!["/api/companies/{companyId}/channels"]!["post"]!["operationId"]!.GetValue<string>());
        Assert.Equal("receiveHook", document["paths"]!["/api/receive_hook"]!["post"]!["operationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheToursOperationsCarryRequestAndResponseExamples()
    {
        var document = await DocumentAsync();
        var create = document["paths"]!["/api/companies/{companyId}/channels"]!["post"]!;
        var hook = document["paths"]!["/api/receive_hook"]!["post"]!;

        Assert.Equal("omni", create["requestBody"]!["content"]!["application/json"]!["example"]!["type"]!.GetValue<string>());
        Assert.StartsWith("whsec_", create["responses"]!["201"]!["content"]!["application/json"]!["example"]!["webhookSecret"]!.GetValue<string>());
        Assert.Equal("erp-4711", hook["requestBody"]!["content"]!["application/json"]!["example"]!["externalId"]!.GetValue<string>());
        Assert.Equal("accepted", hook["responses"]!["202"]!["content"]!["application/json"]!["example"]!["status"]!.GetValue<string>());
        Assert.Equal("#/components/examples/problem422", hook["responses"]!["422"]!["content"]!["application/problem+json"]!["examples"]!["problem422"]!["$ref"]!.GetValue<string>());
        Assert.Equal(422, document["components"]!["examples"]!["problem422"]!["value"]!["status"]!.GetValue<int>());
    }

    [Fact]
    public async Task TheDocsPageIsTitledAndDescribedForOmniWithoutTheDefaultDeployAndAiButtons()
    {
        var page = await _app.Anonymous().GetStringAsync("/api/docs/");
        var config = JsonNode.Parse(ConfigurationJson().Match(page).Groups["config"].Value)!;

        Assert.Contains("<title>Omni Channels API</title>", page);
        Assert.Contains("name=\"description\"", page);
        Assert.Equal("never", config["showDeveloperTools"]!.GetValue<string>());
        Assert.True(config["agent"]!["disabled"]!.GetValue<bool>(), "The AI chat is shown.");
        Assert.True(config["mcp"]!["disabled"]!.GetValue<bool>(), "The MCP button is shown.");
        Assert.False(config["telemetry"]!.GetValue<bool>());
        Assert.Contains("managementKey", config["authentication"]!["preferredSecurityScheme"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    private async Task<JsonObject> DocumentAsync() =>
        await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/openapi/v1.json"), HttpStatusCode.OK);

    private static IEnumerable<(string Path, string Method, JsonObject Operation)> Operations(JsonObject document) =>
        document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject()
            .Where(o => Methods.Contains(o.Key))
            .Select(o => (p.Key, o.Key, o.Value!.AsObject())));

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Repository.Root };
        // Nothing leaves the machine: no usage telemetry, no update check.
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex("^[a-z][A-Za-z0-9]*$")]
    private static partial Regex CamelCase();

    [GeneratedRegex(@"initialize\(\s*'[^']*',\s*\w+,\s*(?<config>\{.*\}),\s*'", RegexOptions.Singleline)]
    private static partial Regex ConfigurationJson();
}
