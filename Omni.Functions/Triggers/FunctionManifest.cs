using System.Text.Json;

namespace Omni.Functions.Triggers;

public enum TriggerKind
{
    Http,
    Timer,
    Queue,
}

/// <summary>One function as the Functions host sees it, read from its <c>function.json</c>.</summary>
public sealed record FunctionDefinition(
    string Name,
    TriggerKind Kind,
    string BindingName,
    string? Route = null,
    IReadOnlyList<string>? Methods = null,
    string? Schedule = null,
    string? QueueName = null,
    string? Connection = null);

/// <summary>
/// Reads <c>functions/&lt;Name&gt;/function.json</c>: the same files the package ships to the host, so the local
/// runner's schedules and queues cannot drift from Azure's.
/// </summary>
public static class FunctionManifest
{
    public static string DefaultDirectory => ResolveDirectory(Environment.GetEnvironmentVariable("FUNCTIONS_APP_ROOT_PATH"), AppContext.BaseDirectory);

    /// <summary>
    /// Under the Functions host the function folders sit at the app root beside host.json (the package layout,
    /// FUNCTIONS_APP_ROOT_PATH); in a build or a local run they ship beside the binary in <c>functions/</c>.
    /// </summary>
    public static string ResolveDirectory(string? appRootPath, string baseDirectory) =>
        appRootPath is { Length: > 0 } && File.Exists(Path.Combine(appRootPath, "host.json"))
            ? appRootPath
            : Path.Combine(baseDirectory, "functions");

    public static IReadOnlyList<FunctionDefinition> Load(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new InvalidOperationException($"No functions folder at '{directory}'. The function.json files ship beside the app; rebuild or set Omni__Functions__Directory.");
        }

        return Directory.GetDirectories(directory)
            .Select(d => (Name: Path.GetFileName(d), File: Path.Combine(d, "function.json")))
            .Where(f => File.Exists(f.File))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => Parse(f.Name, File.ReadAllText(f.File)))
            .ToList();
    }

    public static FunctionDefinition Parse(string name, string json)
    {
        using var document = JsonDocument.Parse(json);
        var bindings = document.RootElement.GetProperty("bindings").EnumerateArray().ToList();
        var trigger = bindings.SingleOrDefault(b => b.GetProperty("direction").GetString() == "in" && b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));
        if (trigger.ValueKind == JsonValueKind.Undefined)
        {
            throw new InvalidOperationException($"functions/{name}/function.json has no trigger binding.");
        }

        string? Get(string property) => trigger.TryGetProperty(property, out var v) ? v.GetString() : null;
        var binding = Get("name") ?? throw new InvalidOperationException($"functions/{name}/function.json: the trigger has no name.");
        return Get("type") switch
        {
            "httpTrigger" => new FunctionDefinition(name, TriggerKind.Http, binding, Route: Get("route"),
                Methods: trigger.TryGetProperty("methods", out var m) ? m.EnumerateArray().Select(x => x.GetString()!.ToUpperInvariant()).ToList() : []),
            "timerTrigger" => new FunctionDefinition(name, TriggerKind.Timer, binding, Schedule: Get("schedule")),
            "queueTrigger" => new FunctionDefinition(name, TriggerKind.Queue, binding, QueueName: Get("queueName"), Connection: Get("connection") ?? "AzureWebJobsStorage"),
            var other => throw new InvalidOperationException($"functions/{name}/function.json: trigger type '{other}' is not one this app handles."),
        };
    }
}
