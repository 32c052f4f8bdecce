using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Functions.Triggers;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Deployment;

/// <summary>
/// Reads the ARM template that scripts/check-infra.sh compiles from infra/main.bicep and proves what the deployment
/// promises: Flex Consumption with the custom runtime, one user-assigned identity, no keys, Key Vault references,
/// Entra-only telemetry, and every table and queue the running app declares.
/// </summary>
public sealed partial class BicepTemplateTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const string BlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string QueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string TableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    private const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    private const string WebPubSubServiceOwner = "12cf5a90-567b-43ae-8102-96cf46c7d9b4";
    private const string Contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c";
    private const string CognitiveServicesSpeechUser = "f2dc8367-1007-4938-bd23-fe263f013447";

    private static readonly Lazy<CompiledTemplate> Compiled = new(CompiledTemplate.Load);
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static CompiledTemplate Template => Compiled.Value;

    private static Resource Site => Template.Single("Microsoft.Web/sites");

    /// <summary>The settings main.bicep passes to the module, plus the one the module adds itself.</summary>
    private static JsonObject AppSettings
    {
        get
        {
            var config = Template.Single("Microsoft.Web/sites/config").Body["properties"]!.GetValue<string>();
            Assert.Equal("[union(parameters('appSettings'), createObject('AzureWebJobsStorage__clientId', parameters('identityClientId')))]", config);
            var settings = Site.Module.Deployment["properties"]!["parameters"]!["appSettings"]!["value"]!.DeepClone().AsObject();
            settings["AzureWebJobsStorage__clientId"] = Site.ResolveModuleParameter("identityClientId");
            return settings;
        }
    }

    [Fact]
    public void ThePlanIsFlexConsumptionOnLinux()
    {
        var plan = Template.Single("Microsoft.Web/serverfarms").Body;

        Assert.Equal("FC1", plan["sku"]!["name"]!.GetValue<string>());
        Assert.Equal("FlexConsumption", plan["sku"]!["tier"]!.GetValue<string>());
        Assert.True(plan["properties"]!["reserved"]!.GetValue<bool>());
    }

    [Fact]
    public void TheAppRunsTheCustomHandlerRuntimeOn512MbInstancesByDefault()
    {
        var config = Site.Body["properties"]!["functionAppConfig"]!;

        Assert.Equal("functionapp,linux", Site.Body["kind"]!.GetValue<string>());
        Assert.Equal("custom", config["runtime"]!["name"]!.GetValue<string>());
        Assert.Equal("1.0", config["runtime"]!["version"]!.GetValue<string>());
        Assert.Equal(512, Site.Resolve(config["scaleAndConcurrency"]!["instanceMemoryMB"]!).GetValue<int>());
        Assert.Equal(40, Site.Resolve(config["scaleAndConcurrency"]!["maximumInstanceCount"]!).GetValue<int>());
        Assert.Contains("instanceMemoryMB", Template.Main["parameters"]!.AsObject().Select(p => p.Key));
        Assert.Contains("maximumInstanceCount", Template.Main["parameters"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public void TheAppHasOnlyTheUserAssignedIdentityAndUsesItForThePackageAndKeyVault()
    {
        var identity = Site.Body["identity"]!;
        var properties = Site.Body["properties"]!;
        var identityId = Assert.Single(identity["userAssignedIdentities"]!.AsObject()).Key;

        Assert.Equal("UserAssigned", identity["type"]!.GetValue<string>());
        Assert.Equal("[parameters('identityId')]", identityId.Replace("[format('{0}', parameters('identityId'))]", "[parameters('identityId')]", StringComparison.Ordinal));
        var storage = properties["functionAppConfig"]!["deployment"]!["storage"]!;
        Assert.Equal("blobContainer", storage["type"]!.GetValue<string>());
        Assert.Equal("UserAssignedIdentity", storage["authentication"]!["type"]!.GetValue<string>());
        Assert.Equal("[parameters('identityId')]", storage["authentication"]!["userAssignedIdentityResourceId"]!.GetValue<string>());
        Assert.Equal("[parameters('identityId')]", properties["keyVaultReferenceIdentity"]!.GetValue<string>());
        Assert.Equal(1, Template.All.Count(r => r.Type == "Microsoft.ManagedIdentity/userAssignedIdentities"));
    }

    [Fact]
    public void TheAppIsHttpsOnlyWithTls12AndNoFtpOrBasicPublishing()
    {
        var properties = Site.Body["properties"]!;

        Assert.True(properties["httpsOnly"]!.GetValue<bool>());
        Assert.Equal("1.2", properties["siteConfig"]!["minTlsVersion"]!.GetValue<string>());
        Assert.Equal("Disabled", properties["siteConfig"]!["ftpsState"]!.GetValue<string>());
        var policies = Template.All.Where(r => r.Type == "Microsoft.Web/sites/basicPublishingCredentialsPolicies").ToList();
        Assert.Equal(["ftp", "scm"], policies.Select(p => PolicyName().Match(p.Body["name"]!.GetValue<string>()).Groups[1].Value).Order());
        Assert.All(policies, p => Assert.False(p.Body["properties"]!["allow"]!.GetValue<bool>()));
    }

    [Fact]
    public void StorageAcceptsOnlyIdentitiesOverTls12Https()
    {
        var account = Template.Single("Microsoft.Storage/storageAccounts").Body["properties"]!;

        Assert.False(account["allowSharedKeyAccess"]!.GetValue<bool>());
        Assert.Equal("TLS1_2", account["minimumTlsVersion"]!.GetValue<string>());
        Assert.True(account["supportsHttpsTrafficOnly"]!.GetValue<bool>());
        Assert.False(account["allowBlobPublicAccess"]!.GetValue<bool>());
    }

    [Fact]
    public void TheAppReachesStorageWithItsIdentityAndDoesNotProvisionAtStart()
    {
        var settings = AppSettings;

        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]!.GetValue<string>());
        Assert.Contains("clientId", settings["AzureWebJobsStorage__clientId"]!.GetValue<string>(), StringComparison.Ordinal);
        foreach (var service in new[] { "blob", "queue", "table" })
        {
            Assert.Contains($"{service}Endpoint", settings[$"AzureWebJobsStorage__{service}ServiceUri"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Null(settings["AzureWebJobsStorage"]);
        Assert.Equal("false", settings["Omni__Storage__ProvisionOnStart"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("Microsoft.Storage/storageAccounts", BlobDataOwner)]
    [InlineData("Microsoft.Storage/storageAccounts", QueueDataContributor)]
    [InlineData("Microsoft.Storage/storageAccounts", TableDataContributor)]
    [InlineData("Microsoft.Storage/storageAccounts/blobServices/containers", BlobDataOwner)]
    [InlineData("Microsoft.Insights/components", MonitoringMetricsPublisher)]
    [InlineData("Microsoft.KeyVault/vaults", KeyVaultSecretsUser)]
    [InlineData("Microsoft.SignalRService/webPubSub", WebPubSubServiceOwner)]
    [InlineData("Microsoft.Communication/communicationServices", Contributor)]
    [InlineData("Microsoft.CognitiveServices/accounts", CognitiveServicesSpeechUser)]
    public void TheIdentityHoldsEachRoleItNeedsOnTheRightScope(string scopeType, string roleId)
    {
        var assignments = Template.All.Where(r => r.Type == "Microsoft.Authorization/roleAssignments")
            .Where(r => r.ResolveVariables(r.Body["properties"]!["roleDefinitionId"]!.GetValue<string>()).Contains($"'{roleId}'", StringComparison.Ordinal))
            .Where(r => r.Body["scope"]!.GetValue<string>().StartsWith($"[resourceId('{scopeType}',", StringComparison.Ordinal))
            .ToList();

        var assignment = Assert.Single(assignments);
        Assert.Equal("[parameters('identityPrincipalId')]", assignment.Body["properties"]!["principalId"]!.GetValue<string>());
        Assert.Equal("ServicePrincipal", assignment.Body["properties"]!["principalType"]!.GetValue<string>());
        Assert.Contains("principalId", assignment.ResolveModuleParameter("identityPrincipalId"), StringComparison.Ordinal);
    }

    [Fact]
    public void SecretsComeFromAnRbacKeyVaultThroughReferences()
    {
        var vault = Template.Single("Microsoft.KeyVault/vaults").Body["properties"]!;
        var settings = AppSettings;

        Assert.True(vault["enableRbacAuthorization"]!.GetValue<bool>());
        foreach (var setting in new[] { "Omni__AdminToken", "Omni__SecretsKey" })
        {
            Assert.Contains("@Microsoft.KeyVault(SecretUri=", settings[setting]!.GetValue<string>(), StringComparison.Ordinal);
        }

        foreach (var secret in new[] { "adminToken", "secretsKey" })
        {
            Assert.Equal("securestring", Template.Main["parameters"]![secret]!["type"]!.GetValue<string>());
        }
    }

    [Fact]
    public void TelemetryIsAcceptedOnlyWithTheIdentitysEntraToken()
    {
        var insights = Template.Single("Microsoft.Insights/components").Body["properties"]!;

        Assert.True(insights["DisableLocalAuth"]!.GetValue<bool>());
        var authentication = AppSettings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]!.GetValue<string>();
        Assert.Contains("ClientId=", authentication, StringComparison.Ordinal);
        Assert.Contains("clientId", authentication, StringComparison.Ordinal);
        Assert.Contains("Authorization=AAD", authentication, StringComparison.Ordinal);
    }

    [Fact]
    public void TheWebchatsWebPubSubIsFreeByDefaultTakesNoKeysAndIsNamedToTheApp()
    {
        var webPubSub = Template.Single("Microsoft.SignalRService/webPubSub").Body;

        Assert.True(webPubSub["properties"]!["disableLocalAuth"]!.GetValue<bool>());
        Assert.Equal("Free_F1", Template.Main["parameters"]!["webPubSubSku"]!["defaultValue"]!.GetValue<string>());
        Assert.Contains("endpoint", AppSettings["Omni__Webchat__WebPubSubEndpoint"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("clientId", AppSettings["Omni__Webchat__WebPubSubClientId"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void CallsRunOnAcsWithItsDataInBrazilReachedWithTheAppsIdentityAndCallingBackTheApp()
    {
        var acs = Template.Single("Microsoft.Communication/communicationServices");
        var settings = AppSettings;

        Assert.Equal("global", acs.Body["location"]!.GetValue<string>());
        Assert.Equal("[parameters('dataLocation')]", acs.Body["properties"]!["dataLocation"]!.GetValue<string>());
        Assert.Equal("Brazil", acs.Module.Template["parameters"]!["dataLocation"]!["defaultValue"]!.GetValue<string>());
        Assert.Contains("'communication'", settings["Omni__Voice__AcsEndpoint"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("outputs.endpoint", settings["Omni__Voice__AcsEndpoint"]!.GetValue<string>(), StringComparison.Ordinal);
        // The callbacks go to this very app: the name its site is given.
        Assert.Equal("[format('https://{0}.azurewebsites.net', variables('appName'))]", settings["Omni__Voice__PublicBaseUrl"]!.GetValue<string>());
        Assert.Equal("[variables('appName')]", Site.Module.Deployment["properties"]!["parameters"]!["appName"]!["value"]!.GetValue<string>());
        Assert.DoesNotContain(settings, s => s.Key.StartsWith("Omni__Voice__AcsAccessKey", StringComparison.Ordinal));
    }

    [Fact]
    public void IncomingCallEventsGoFromTheAcsSystemTopicToTheAppsEventsWebhookOnceTurnedOn()
    {
        var topic = Template.Single("Microsoft.EventGrid/systemTopics");
        var subscription = Template.Single("Microsoft.EventGrid/systemTopics/eventSubscriptions");
        var properties = subscription.Body["properties"]!;

        Assert.Equal("[resourceId('Microsoft.Communication/communicationServices', parameters('name'))]", topic.Body["properties"]!["source"]!.GetValue<string>());
        Assert.Equal("Microsoft.Communication.CommunicationServices", topic.Body["properties"]!["topicType"]!.GetValue<string>());
        Assert.Equal("WebHook", properties["destination"]!["endpointType"]!.GetValue<string>());
        Assert.Equal("[parameters('endpointUrl')]", properties["destination"]!["properties"]!["endpointUrl"]!.GetValue<string>());
        Assert.Equal("[format('https://{0}/api/providers/acs/events', reference(resourceId('Microsoft.Resources/deployments', 'functionapp'), '2025-04-01').outputs.defaultHostName.value)]",
            subscription.Module.Deployment["properties"]!["parameters"]!["endpointUrl"]!["value"]!.GetValue<string>());
        Assert.Equal(["Microsoft.Communication.IncomingCall"], properties["filter"]!["includedEventTypes"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("EventGridSchema", properties["eventDeliverySchema"]!.GetValue<string>());
        // Event Grid checks the webhook while deploying: off until the app's code is there to answer it.
        Assert.Equal("[parameters('voiceEvents')]", subscription.Module.Deployment["condition"]!.GetValue<string>());
        Assert.False(Template.Main["parameters"]!["voiceEvents"]!["defaultValue"]!.GetValue<bool>());
    }

    [Fact]
    public void PromptPreviewsAreSpokenByAnAzureAiSpeechAccountThatTakesOnlyTheAppsIdentity()
    {
        var speech = Template.Single("Microsoft.CognitiveServices/accounts").Body;
        var settings = AppSettings;

        Assert.Equal("SpeechServices", speech["kind"]!.GetValue<string>());
        Assert.True(speech["properties"]!["disableLocalAuth"]!.GetValue<bool>());
        // Entra ID tokens are taken only on the resource's custom subdomain.
        Assert.Equal("[parameters('name')]", speech["properties"]!["customSubDomainName"]!.GetValue<string>());
        Assert.Contains("outputs.ttsEndpoint", settings["Omni__Voice__SpeechEndpoint"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("clientId", settings["Omni__Voice__SpeechClientId"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(settings, s => s.Key == "Omni__Voice__SpeechKey");
        // ACS speaks the calls' text messages through the same account with its own identity.
        Assert.Contains("outputs.endpoint", settings["Omni__Voice__CognitiveServicesEndpoint"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("SystemAssigned", Template.Single("Microsoft.Communication/communicationServices").Body["identity"]!["type"]!.GetValue<string>());
        var acs = Assert.Single(Template.All, r => r.Type == "Microsoft.Authorization/roleAssignments"
            && r.Body["properties"]!["principalId"]!.GetValue<string>() == "[parameters('communicationPrincipalId')]");
        Assert.Contains("'a97b65f3-24c7-4388-baec-2e87135dc908'", acs.ResolveVariables(acs.Body["properties"]!["roleDefinitionId"]!.GetValue<string>()), StringComparison.Ordinal);
        var principal = acs.ResolveModuleParameter("communicationPrincipalId");
        Assert.Contains("communication", principal, StringComparison.Ordinal);
        Assert.Contains("outputs.principalId", principal, StringComparison.Ordinal);
    }

    [Fact]
    public void TheOperatorsAlertsWatchMetricsTheAppEmitsInItsWorkspaceAndMailOnlyWhenAnAddressIsGiven()
    {
        var rules = Assert.Single(Template.All, r => r.Type == "Microsoft.Insights/scheduledQueryRules");
        var alerts = rules.Module.Template["variables"]!["alerts"]!.AsArray().Select(a => a!.AsObject()).ToList();
        // The names the app's meters declare, read from the sources that declare them.
        var emitted = Directory.GetFiles(Path.Combine(Repository.Root, "Omni.Core"), "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), "\"(omni\\.[a-z._]+)\"").Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);

        Assert.Equal(["failed-deliveries", "poison-queues", "refused-tokens", "stalled-mailboxes"], alerts.Select(a => a["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(alerts, a =>
        {
            var metric = Regex.Match(a["query"]!.GetValue<string>(), "Name == \"([^\"]+)\"").Groups[1].Value;
            Assert.Contains(metric, emitted);
        });
        Assert.Contains("Microsoft.OperationalInsights/workspaces", rules.Body["properties"]!["scopes"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("alertEmail", Template.Single("Microsoft.Insights/actionGroups").Body["condition"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void NoKeyOrConnectionStringAppearsAnywhere()
    {
        foreach (var forbidden in new[] { "listKeys", "listAccountSas", "listServiceSas", "AccountKey", "SharedAccessKey", "DefaultEndpointsProtocol", "SharedAccessSignature" })
        {
            Assert.DoesNotContain(forbidden, Template.Text, StringComparison.OrdinalIgnoreCase);
        }

        // The one connection string is Application Insights': not a secret once local auth is disabled.
        var lines = Template.Text.Split('\n').Where(l => l.Contains("connectionstring", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(ApplicationInsightsOnly(), l));
    }

    [Fact]
    public void TheTemplateOutputsTheFunctionAppUrl()
    {
        var url = Template.Main["outputs"]!["FUNCTION_APP_URL"]!["value"]!.GetValue<string>();

        Assert.StartsWith("[format('https://{0}'", url, StringComparison.Ordinal);
        Assert.Contains("defaultHostName", url, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryTableQueueAndContainerTheAppDeclaresIsInTheTemplate()
    {
        _app.StartServer();
        var declared = _app.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
        var triggerQueues = FunctionManifest.Load(Path.Combine(Repository.Root, "Omni.Functions", "functions"))
            .Where(f => f.Kind == TriggerKind.Queue).Select(f => f.QueueName!);
        var storage = Template.Modules.Single(m => m.Name == "storage");

        Assert.NotEmpty(declared.Tables);
        AssertListed("storageTables", "tables", declared.Tables);
        AssertListed("storageQueues", "queues", declared.Queues.Concat(triggerQueues));
        AssertListed("storageContainers", "containers", declared.Containers);
        Assert.Contains(storage.All, r => r.Type == "Microsoft.Storage/storageAccounts/tableServices/tables" && r.Copies("tables"));
        Assert.Contains(storage.All, r => r.Type == "Microsoft.Storage/storageAccounts/queueServices/queues" && r.Copies("queues"));
        Assert.Contains(storage.All, r => r.Type == "Microsoft.Storage/storageAccounts/blobServices/containers" && r.Copies("containers"));

        void AssertListed(string variable, string parameter, IEnumerable<string> names)
        {
            var listed = Template.Main["variables"]![variable]!.AsArray().Select(n => n!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
            var missing = names.Where(n => !listed.Contains(n)).Distinct().Order().ToList();
            Assert.True(missing.Count == 0, $"infra/main.bicep's {variable} lacks {string.Join(", ", missing)}: the app declares them (AddStorageResources or a queue trigger) and in Azure only the template creates them.");
            Assert.Equal($"[variables('{variable}')]", storage.Deployment["properties"]!["parameters"]![parameter]!["value"]!.GetValue<string>());
        }
    }

    [Fact]
    public void TheParametersFileSetsOnlyParametersTheTemplateHas()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "infra", "main.parameters.json")))!["parameters"]!.AsObject();
        var declared = Template.Main["parameters"]!.AsObject().Select(p => p.Key).ToHashSet(StringComparer.Ordinal);

        Assert.DoesNotContain(file.Select(p => p.Key), k => !declared.Contains(k));
        Assert.Contains("environmentName", file.Select(p => p.Key));
        Assert.Equal("${OMNI_ADMIN_TOKEN}", file["adminToken"]!["value"]!.GetValue<string>());
        Assert.Equal("${OMNI_SECRETS_KEY}", file["secretsKey"]!["value"]!.GetValue<string>());
    }

    [Fact]
    public void AzdDeploysThePackageToTheFunctionAppTaggedApi()
    {
        var yaml = File.ReadAllText(Path.Combine(Repository.Root, "azure.yaml"));

        Assert.Matches(@"(?m)^  api:\s*$", yaml);
        Assert.Matches(@"(?m)^    host: function\s*$", yaml);
        Assert.Matches(@"(?m)^    language: custom\s*$", yaml);
        Assert.Contains("scripts/package.sh", yaml, StringComparison.Ordinal);
        Assert.Contains("createObject('azd-service-name', 'api')", Site.Body["tags"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [GeneratedRegex("applicationInsightsConnectionString|'Microsoft\\.Insights/components'.*\\.ConnectionString", RegexOptions.IgnoreCase)]
    private static partial Regex ApplicationInsightsOnly();

    /// <summary>One resource of the compiled template and the module (nested deployment) it belongs to.</summary>
    private sealed record Resource(string Type, JsonObject Body, Module Module)
    {
        public JsonNode Resolve(JsonNode node) => Module.Resolve(node);

        public bool Copies(string parameter) =>
            Body["copy"]?["count"]?.GetValue<string>() == $"[length(parameters('{parameter}'))]"
            && Body["name"]!.GetValue<string>().Contains($"parameters('{parameter}')[copyIndex()]", StringComparison.Ordinal);

        /// <summary>Replaces variables('x') and variables('x').y with their literal values from the module.</summary>
        public string ResolveVariables(string expression) => VariableReference().Replace(expression, m =>
        {
            var value = Module.Template["variables"]![m.Groups[1].Value]!;
            value = m.Groups[2].Success ? value[m.Groups[2].Value]! : value;
            return $"'{value.GetValue<string>()}'";
        });

        /// <summary>The expression the parent passes for one of this module's parameters.</summary>
        public string ResolveModuleParameter(string name) => Module.Deployment["properties"]!["parameters"]![name]!["value"]!.ToJsonString();
    }

    /// <summary>A Bicep module compiled to a nested deployment: its parameters come from the main template.</summary>
    private sealed record Module(string Name, JsonObject Deployment, JsonObject Main)
    {
        public JsonObject Template => Deployment["properties"]!["template"]!.AsObject();

        public IEnumerable<Resource> All => Resources(Template).Select(r => new Resource(r["type"]!.GetValue<string>(), r, this));

        /// <summary>Follows "[parameters('x')]" from the module to the value main passes, and to main's default.</summary>
        public JsonNode Resolve(JsonNode node)
        {
            if (node is JsonValue v && v.TryGetValue<string>(out var s) && ParameterReference().Match(s) is { Success: true } m)
            {
                var passed = Deployment["properties"]!["parameters"]![m.Groups[1].Value]!["value"]!;
                return passed is JsonValue pv && pv.TryGetValue<string>(out var ps) && ParameterReference().Match(ps) is { Success: true } pm
                    ? Main["parameters"]![pm.Groups[1].Value]!["defaultValue"]!
                    : passed;
            }

            if (node is JsonObject o)
            {
                var resolved = new JsonObject();
                foreach (var (key, value) in o)
                {
                    resolved[key] = value is null ? null : Resolve(value).DeepClone();
                }

                return resolved;
            }

            return node;
        }
    }

    private sealed record CompiledTemplate(string Text, JsonObject Main, IReadOnlyList<Module> Modules)
    {
        public static string FilePath => Path.Combine(Repository.Root, "artifacts", "infra", "main.json");

        public IEnumerable<Resource> All => Modules.SelectMany(m => m.All);

        public static CompiledTemplate Load()
        {
            if (!File.Exists(FilePath))
            {
                throw new InvalidOperationException($"The compiled template {FilePath} is missing: run scripts/check-infra.sh (scripts/test.sh does) to build infra/main.bicep.");
            }

            var newest = Directory.GetFiles(Path.Combine(Repository.Root, "infra"), "*.bicep", SearchOption.AllDirectories).Max(File.GetLastWriteTimeUtc);
            if (newest > File.GetLastWriteTimeUtc(FilePath))
            {
                throw new InvalidOperationException($"The compiled template {FilePath} is older than infra/*.bicep: run scripts/check-infra.sh again.");
            }

            var text = File.ReadAllText(FilePath);
            var main = JsonNode.Parse(text)!.AsObject();
            var modules = Resources(main)
                .Where(r => r["type"]!.GetValue<string>() == "Microsoft.Resources/deployments")
                .Select(r => new Module(r["name"]!.GetValue<string>(), r, main))
                .ToList();
            return new CompiledTemplate(text, main, modules);
        }

        public Resource Single(string type)
        {
            var matches = All.Where(r => r.Type == type).ToList();
            Assert.True(matches.Count == 1, $"Expected one {type} in the template, found {matches.Count}.");
            return matches[0];
        }
    }

    // Symbolic-name templates (languageVersion 2.0) hold resources in an object, classic ones in an array.
    private static IEnumerable<JsonObject> Resources(JsonObject template) => template["resources"] switch
    {
        JsonArray a => a.Select(r => r!.AsObject()),
        JsonObject o => o.Select(p => p.Value!.AsObject()),
        _ => [],
    };

    [GeneratedRegex(@"variables\('([A-Za-z0-9_]+)'\)(?:\.([A-Za-z0-9_]+))?")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"'(ftp|scm)'\)\]$")]
    private static partial Regex PolicyName();

    [GeneratedRegex(@"^\[parameters\('([A-Za-z0-9_]+)'\)\]$")]
    private static partial Regex ParameterReference();
}
