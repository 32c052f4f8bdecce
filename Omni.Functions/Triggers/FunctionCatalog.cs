using Microsoft.Extensions.Options;

namespace Omni.Functions.Triggers;

/// <summary>The app's functions, loaded once, and checked against the registered handlers so neither side can drift.</summary>
public sealed class FunctionCatalog
{
    public FunctionCatalog(IOptions<TriggerOptions> options, IOptions<TriggerRegistry> registry)
    {
        Functions = FunctionManifest.Load(options.Value.FunctionsDirectory ?? FunctionManifest.DefaultDirectory);
        var r = registry.Value;
        var problems = new List<string>();
        foreach (var f in Functions)
        {
            if (f.Kind == TriggerKind.Queue && !r.Queues.ContainsKey(f.Name))
            {
                problems.Add($"function.json '{f.Name}' is a queue trigger with no registered handler");
            }

            if (f.Kind == TriggerKind.Timer && !r.Timers.ContainsKey(f.Name))
            {
                problems.Add($"function.json '{f.Name}' is a timer trigger with no registered handler");
            }
        }

        problems.AddRange(r.Queues.Keys.Where(name => !Functions.Any(f => f.Name == name && f.Kind == TriggerKind.Queue))
            .Select(name => $"queue handler '{name}' has no functions/{name}/function.json"));
        problems.AddRange(r.Timers.Keys.Where(name => !Functions.Any(f => f.Name == name && f.Kind == TriggerKind.Timer))
            .Select(name => $"timer handler '{name}' has no functions/{name}/function.json"));
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Functions and handlers do not match: " + string.Join("; ", problems) + ".");
        }
    }

    public IReadOnlyList<FunctionDefinition> Functions { get; }
}
