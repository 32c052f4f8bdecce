using System.Text.Json.Nodes;
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
        using var app = new OmniApp(azurite, new Dictionary<string, string?>
        {
            ["Omni:AdminToken"] = "@Microsoft.KeyVault(SecretUri=https://kv-omni-example.vault.azure.net/secrets/omni-admin-token)",
        });

        var error = Assert.ThrowsAny<Exception>(() => app.StartServer());

        Assert.Contains("Omni__AdminToken is an unresolved Key Vault reference", error.ToString(), StringComparison.Ordinal);
    }
}
