using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Omni.Tests.Infrastructure;
using Omni.Tests.Operations.Client;
using Omni.Tests.Operations.Client.Models;

namespace Omni.Tests.Operations;

/// <summary>
/// A C# client Kiota (the dotnet tool in .config/dotnet-tools.json) generates from the served document, for the
/// operations of the README's tour. It is checked in (Client/) so the suite compiles it with everything else; the
/// first test regenerates it and fails on any difference (OMNI_UPDATE_CLIENT=1 writes the new one instead).
/// </summary>
public sealed class GeneratedClientTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static readonly string CheckedIn = Path.Combine(Repository.Root, "Omni.Tests", "Operations", "Client");

    private static readonly string[] TourOperations =
    [
        "/api/companies#POST", "/api/companies/{companyId}/management-keys#POST", "/api/companies/{companyId}/services#POST",
        "/api/companies/{companyId}/channels#POST", "/api/companies/{companyId}/channels/{channelId}/api-keys#POST",
        "/api/receive_hook#POST", "/api/companies/{companyId}/conversations/{conversationId}/messages",
    ];

    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task TheCheckedInClientIsWhatKiotaGeneratesFromTheServedDocument()
    {
        var folder = Directory.CreateTempSubdirectory("omni-kiota-");
        try
        {
            var document = JsonNode.Parse(await _app.Anonymous().GetStringAsync("/api/openapi/v1.json"))!.AsObject();
            // The server is this run's port: a client takes its base URL from whoever uses it.
            document.Remove("servers");
            var file = Path.Combine(folder.FullName, "v1.json");
            await File.WriteAllTextAsync(file, document.ToJsonString());
            var output = Path.Combine(folder.FullName, "client");

            await KiotaAsync(["generate", "-l", "CSharp", "-d", file, "-o", output, "-n", "Omni.Tests.Operations.Client", "-c", "OmniClient",
                "--exclude-backward-compatible", "--type-access-modifier", "Internal",
                "-s", "Microsoft.Kiota.Serialization.Json.JsonSerializationWriterFactory", "--ds", "Microsoft.Kiota.Serialization.Json.JsonParseNodeFactory",
                "--log-level", "Error", .. TourOperations.SelectMany(o => new[] { "-i", o })]);
            // The lock file names this run's temporary paths; the log is the tool's own.
            File.Delete(Path.Combine(output, "kiota-lock.json"));
            File.Delete(Path.Combine(output, ".kiota.log"));

            if (Environment.GetEnvironmentVariable("OMNI_UPDATE_CLIENT") == "1")
            {
                Directory.Delete(CheckedIn, recursive: true);
                CopyTree(output, CheckedIn);
            }

            var generated = Files(output);
            var kept = Files(CheckedIn);
            var differences = generated.Keys.Union(kept.Keys).Order(StringComparer.Ordinal)
                .Where(f => !generated.TryGetValue(f, out var g) || !kept.TryGetValue(f, out var k) || g != k)
                .ToList();
            Assert.True(differences.Count == 0,
                "Omni.Tests/Operations/Client is not what Kiota generates from the document now; regenerate it with " +
                "OMNI_UPDATE_CLIENT=1 dotnet test --project Omni.Tests -- --filter-method \"*TheCheckedInClientIsWhatKiotaGenerates*\". Differs: " +
                string.Join(", ", differences));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TheGeneratedClientRunsTheReadmeTour()
    {
        var admin = Client(_app.Admin());
        var company = await admin.Api.Companies.PostAsync(new CreateCompanyRequest { Name = "Acme" });
        var key = await admin.Api.Companies[company!.Id].ManagementKeys.PostAsync(new CreateManagementKeyRequest
        {
            Name = "acme-admin",
            Scopes = ["channels:read", "channels:write", "keys:write", "conversations:read", "conversations:write", "audit:read"],
        });
        var management = Client(_app.As(key!.Key!)).Api.Companies[company.Id];
        var service = await management.Services.PostAsync(new CreateServiceRequest { Name = "Suporte" });
        var channel = await management.Channels.PostAsync(new ChannelRequest
        {
            Type = "omni",
            Name = "ERP",
            ServiceId = service!.Id,
            Settings = new Client.Models.JsonObject { AdditionalData = { ["webhookUrl"] = "https://erp.example.com/hooks/omni" } },
        });
        var apiKey = await management.Channels[channel!.Id].ApiKeys.PostAsync(new CreateApiKeyRequest { Name = "erp" });
        var http = _app.Anonymous();
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey!.Key);
        var received = await Client(http).Api.Receive_hook.PostAsync(new ReceiveHookRequest
        {
            ExternalId = "erp-4711",
            Contact = new ReceiveHookContact { ExternalId = "cust-42", Name = "Maria" },
            Text = "My order did not arrive",
        });
        var reply = await management.Conversations[received!.ConversationId].Messages.PostAsync(new SendMessageRequest { Text = "On its way!" });
        var history = await management.Conversations[received.ConversationId].Messages.GetAsync();

        Assert.StartsWith("whsec_", channel.WebhookSecret);
        Assert.Equal("accepted", received.Status);
        Assert.Equal(MessageStatus.Queued, reply!.Status);
        Assert.Equal(["My order did not arrive", "On its way!"], history!.Items!.Select(m => m.Text));
        Assert.Equal([MessageDirection.Inbound, MessageDirection.Outbound], history.Items!.Select(m => m.Direction!.Value));
        // Errors arrive as the document's problem types.
        var problem = await Assert.ThrowsAsync<ProblemDetails>(() => Client(_app.Anonymous()).Api.Companies.PostAsync(new CreateCompanyRequest { Name = "Nobody" }));
        Assert.Equal(401, problem.ResponseStatusCode);
        var invalid = await Assert.ThrowsAsync<HttpValidationProblemDetails>(() => management.Services.PostAsync(new CreateServiceRequest { Name = "" }));
        Assert.Contains("name", invalid.Errors!.AdditionalData.Keys);
    }

    /// <summary>A client over the app's HttpClient, whose headers carry the credential (Kiota's own providers insist on https).</summary>
    private OmniClient Client(HttpClient http) =>
        new(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = _app.BaseAddress.ToString().TrimEnd('/') });

    private static async Task KiotaAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet", ["tool", "run", "kiota", .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Repository.Root,
        };
        // Nothing leaves the machine: no update check against GitHub.
        start.Environment["KIOTA_UPDATE_DISABLED"] = "true";
        start.Environment["KIOTA_TUTORIAL_ENABLED"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0,
            $"kiota (the dotnet tool Microsoft.OpenApi.Kiota in .config/dotnet-tools.json; 'dotnet tool restore' installs it) failed with {process.ExitCode}:\n{await output}\n{await error}");
    }

    private static Dictionary<string, string> Files(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), f => File.ReadAllText(f).ReplaceLineEndings("\n"), StringComparer.Ordinal);

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
