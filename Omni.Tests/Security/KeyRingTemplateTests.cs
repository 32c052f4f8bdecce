using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Security;

/// <summary>The compiled template (scripts/check-infra.sh) passes the key ring to the app from Key Vault.</summary>
public sealed class KeyRingTemplateTests
{
    private static JsonObject Main => JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "artifacts", "infra", "main.json")))!.AsObject();

    private static JsonObject AppSettings
    {
        get
        {
            var resources = Main["resources"] switch
            {
                JsonArray a => a.Select(r => r!.AsObject()),
                JsonObject o => o.Select(p => p.Value!.AsObject()),
                _ => [],
            };
            return resources.Single(r => r["name"]?.GetValue<string>() == "functionapp")["properties"]!["parameters"]!["appSettings"]!["value"]!.AsObject();
        }
    }

    [Fact]
    public void EveryRingSlotIsAKeyIdAndAKeyVaultReferenceToItsOwnSecret()
    {
        var settings = AppSettings;

        Assert.Equal("[parameters('keyRingCurrent')]", settings["Omni__SecretsKeyCurrent"]!.GetValue<string>());
        Assert.Contains("'legacy'", settings["Omni__SecretsKey"]!.GetValue<string>(), StringComparison.Ordinal);
        for (var slot = 0; slot < 3; slot++)
        {
            Assert.Contains($"tryGet(variables('secretsKeySlots'), {slot})", settings[$"Omni__SecretsKeys__{slot}__Id"]!.GetValue<string>(), StringComparison.Ordinal);
            var key = settings[$"Omni__SecretsKeys__{slot}__Key"]!.GetValue<string>();
            Assert.Contains("@Microsoft.KeyVault(SecretUri={0}secrets/{1}-{2})", key, StringComparison.Ordinal);
            Assert.Contains($"tryGet(variables('secretsKeySlots'), {slot})", key, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AzdPassesTheRingFromItsEnvironmentAndAnEmptyRingMeansTheSingleKey()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "infra", "main.parameters.json")))!["parameters"]!;
        var parameters = Main["parameters"]!;

        Assert.Equal("${OMNI_KEY_RING_IDS}", file["keyRingIds"]!["value"]!.GetValue<string>());
        Assert.Equal("${OMNI_KEY_RING_CURRENT}", file["keyRingCurrent"]!["value"]!.GetValue<string>());
        Assert.Equal("", parameters["keyRingIds"]!["defaultValue"]!.GetValue<string>());
        Assert.StartsWith("[if(empty(trim(parameters('keyRingIds'))), createArray('legacy')", Main["variables"]!["secretsKeyRing"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
