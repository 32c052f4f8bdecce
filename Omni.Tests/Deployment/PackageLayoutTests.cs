using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Deployment;

/// <summary>
/// The parts of the deployment package the app itself decides: where it finds the function.json files when the
/// host launches it from the package, the executable name host.json promises, and what it does with a Key Vault
/// reference App Service could not resolve. scripts/check-package.sh runs the real package.
/// </summary>
public sealed class PackageLayoutTests(AzuriteFixture azurite)
{
    [Fact]
    public void UnderTheHostTheFunctionFoldersAreReadFromTheAppRoot()
    {
        var root = Directory.CreateTempSubdirectory("omni-package-").FullName;
        File.WriteAllText(Path.Combine(root, "host.json"), "{}");

        Assert.Equal(root, FunctionManifest.ResolveDirectory(root, "/opt/bin/"));
    }

    [Fact]
    public void WithoutTheHostTheFunctionFoldersAreReadBesideTheBinary()
    {
        Assert.Equal(Path.Combine("/opt/bin/", "functions"), FunctionManifest.ResolveDirectory(null, "/opt/bin/"));
    }

    [Fact]
    public void AnAppRootWithoutHostJsonIsNotTakenForThePackage()
    {
        var root = Directory.CreateTempSubdirectory("omni-not-a-package-").FullName;

        Assert.Equal(Path.Combine("/opt/bin/", "functions"), FunctionManifest.ResolveDirectory(root, "/opt/bin/"));
    }

    [Fact]
    public void HostJsonNamesTheExecutableThePublishProduces()
    {
        var host = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "host.json")))!;

        Assert.Equal(typeof(Program).Assembly.GetName().Name, host["customHandler"]!["description"]!["defaultExecutablePath"]!.GetValue<string>());
    }

    [Fact]
    public void AnUnresolvedKeyVaultReferenceIsNeverTakenAsTheAdminToken()
    {
        const string Unresolved = "@Microsoft.KeyVault(SecretUri=https://kv-omni-example.vault.azure.net/secrets/omni-admin-token)";
        using var app = new OmniApp(azurite, new Dictionary<string, string?> { ["Omni:AdminToken"] = Unresolved });
        Assert.ThrowsAny<Exception>(() => app.StartServer());

        // The message, read where start-up validation raises it: a failed start can surface as the
        // ObjectDisposedException of WebApplicationFactory racing the app's teardown instead.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["Omni:AdminToken"] = Unresolved;
        builder.AddOmniApi();
        using var services = builder.Services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<OmniOptions>>().Value);
        Assert.Contains("Omni__AdminToken is an unresolved Key Vault reference", error.Message, StringComparison.Ordinal);
    }
}
