using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection;
using Omni.Functions.Triggers;
using Omni.Tests.Hosting;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Triggers;

/// <summary>The function.json files (what the Functions host routes) and what the app serves must match both ways.</summary>
public sealed class FunctionManifestTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static IReadOnlyList<FunctionDefinition> Functions => FunctionManifest.Load(Path.Combine(Repository.Root, "Omni.Functions", "functions"));

    private static bool Matches(FunctionDefinition function, string method, string path)
    {
        var matcher = new TemplateMatcher(TemplateParser.Parse("api/" + function.Route), new RouteValueDictionary());
        return function.Methods!.Contains(method) && matcher.TryMatch(path, new RouteValueDictionary());
    }

    [Fact]
    public void TheTimerAndQueueFunctionJsonFilesAreExactlyTheFunctionNames() =>
        Assert.Equal(FunctionNames.All.Order(StringComparer.Ordinal),
            Functions.Where(f => f.Kind is TriggerKind.Timer or TriggerKind.Queue).Select(f => f.Name).Order(StringComparer.Ordinal));

    [Fact]
    public void EveryHttpRouteOfTheAppIsProxiedByAnHttpFunction()
    {
        var http = Functions.Where(f => f.Kind == TriggerKind.Http).ToList();

        var unrouted = RouteCatalog.ApiRoutes(_app)
            .Select(r => (r.Method, Path: RouteCatalog.Fill(r.Pattern, new Dictionary<string, string>())))
            .Where(r => !http.Any(f => Matches(f, r.Method, r.Path)))
            .ToList();

        Assert.Empty(unrouted);
    }

    [Fact]
    public void EveryHttpFunctionLeadsToARouteOfTheApp()
    {
        var routes = RouteCatalog.ApiRoutes(_app).Select(r => (r.Method, Path: RouteCatalog.Fill(r.Pattern, new Dictionary<string, string>()))).ToList();

        var dead = Functions.Where(f => f.Kind == TriggerKind.Http && !routes.Any(r => Matches(f, r.Method, r.Path))).Select(f => f.Name).ToList();

        Assert.Empty(dead);
    }

    [Fact]
    public void HttpFunctionsArePureHttpInHttpOutSoTheHostProxiesThem()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "Omni.Functions", "functions"), "function.json", SearchOption.AllDirectories))
        {
            var bindings = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file))!["bindings"]!.AsArray();
            if (bindings.Any(b => b!["type"]!.GetValue<string>() == "httpTrigger"))
            {
                Assert.Equal(["http", "httpTrigger"], bindings.Select(b => b!["type"]!.GetValue<string>()).Order());
            }
        }
    }

    [Fact]
    public void EveryTimerAndQueueFunctionHasAHandlerAndEveryHandlerAFunction()
    {
        _app.StartServer();
        var registry = _app.Services.GetRequiredService<IOptions<TriggerRegistry>>().Value;
        var files = Functions.Where(f => f.Kind != TriggerKind.Http).Select(f => f.Name).Order().ToList();

        Assert.Equal(files, registry.Queues.Keys.Concat(registry.Timers.Keys).Order().ToList());
        foreach (var timer in Functions.Where(f => f.Kind == TriggerKind.Timer))
        {
            Assert.NotNull(Cronos.CronExpression.Parse(timer.Schedule!, Cronos.CronFormat.IncludeSeconds));
        }
    }

    [Fact]
    public void TheAppRefusesToStartWhenAFunctionHasNoHandler()
    {
        var dir = TestFunctions.CreateDirectory("orphan-queue");
        using var app = new OmniApp(azurite, new Dictionary<string, string?> { ["Omni:Triggers:FunctionsDirectory"] = dir });
        Assert.ThrowsAny<Exception>(() => app.StartServer());

        // What the app says, read where it is raised: a failed start can surface as WebApplicationFactory's
        // ObjectDisposedException instead.
        var error = Assert.Throws<InvalidOperationException>(() => new FunctionCatalog(Options.Create(new TriggerOptions { FunctionsDirectory = dir }), Options.Create(new TriggerRegistry())));
        Assert.Contains("'ProbeQueue' is a queue trigger with no registered handler", error.Message);
    }

    [Fact]
    public void TheShippedHostJsonLaunchesTheHandlerWithRequestProxying()
    {
        var host = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "host.json")))!;

        Assert.Equal("2.0", host["version"]!.GetValue<string>());
        Assert.True(host["customHandler"]!["enableProxyingHttpRequest"]!.GetValue<bool>());
        Assert.Null(host["customHandler"]!["port"]);
        Assert.Equal("api", host["extensions"]!["http"]!["routePrefix"]!.GetValue<string>());
        Assert.Equal(5, host["extensions"]!["queues"]!["maxDequeueCount"]!.GetValue<int>());
    }

    [Fact]
    public void TheHostRetriesAFailedMessageLikeTheLocalRunnerAndLongEnoughBeforeTheWebhookSweepStepsIn()
    {
        var queues = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Repository.Root, "host.json")))!["extensions"]!["queues"]!;
        var retryDelay = TimeSpan.Parse(queues["visibilityTimeout"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var tries = queues["maxDequeueCount"]!.GetValue<int>();
        var local = new TriggerOptions();

        Assert.Equal(local.RetryDelay, retryDelay);
        Assert.Equal(local.MaxDequeueCount, tries);
        // A failing message is not poisoned within seconds: its tries outlast a passing outage.
        Assert.True(retryDelay * (tries - 1) >= TimeSpan.FromMinutes(1), $"{tries} tries {retryDelay} apart poison a message too soon.");
        // And the sweep does not queue again an attempt the host is still retrying.
        Assert.True(new Omni.Webhooks.WebhookOptions().SweepGrace >= retryDelay * tries, "The webhook sweep's grace is shorter than the host's retries.");
    }
}
