using Omni.Benchmarks;
using Omni.Benchmarks.Meta;
using Omni.Benchmarks.MicrosoftEmail;

// dotnet run -c Release --project Omni.Benchmarks -- [name ...]   (no name: all of them)
// Each benchmark measures the product beside a baseline taken in the same run and reports ratios, so figures
// from different machines compare. Results go to artifacts/benchmarks/<name>.md and .json.
var benchmarks = new Dictionary<string, Func<BenchmarkRun, Task<BenchmarkReport>>>(StringComparer.OrdinalIgnoreCase)
{
    // Each feature adds its own line: ["name"] = run => FeatureBenchmark.RunAsync(run),
    ["receive-hook"] = ReceiveHookBenchmark.RunAsync,
    ["webhook-delivery"] = WebhookDeliveryBenchmark.RunAsync,
    ["graph-poll"] = run => GraphPollBenchmark.RunAsync(run),
    ["email-ingest"] = EmailIngestBenchmark.RunAsync,
    ["mail-memory"] = MailMemoryBenchmark.RunAsync,
    ["meta"] = MetaBenchmark.RunAsync,
};

var selected = args.Where(a => !a.StartsWith('-')).ToList();
if (selected.Count == 0)
{
    selected = [.. benchmarks.Keys];
}

var unknown = selected.Where(s => !benchmarks.ContainsKey(s)).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"Unknown benchmark(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", benchmarks.Keys)}.");
    return 2;
}

var output = Path.Combine(Omni.Tests.Infrastructure.Repository.Root, "artifacts", "benchmarks");
Directory.CreateDirectory(output);
foreach (var name in selected)
{
    await using var run = new BenchmarkRun(name);
    var report = await benchmarks[name](run);
    report.Print(Console.Out);
    await report.WriteAsync(output);
}

return 0;
