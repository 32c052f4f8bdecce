using Omni.Benchmarks;
using Omni.Benchmarks.Meta;
using Omni.Benchmarks.MicrosoftEmail;

// dotnet run -c Release --project Omni.Benchmarks -- [--quick] [name ...]   (no name: all of them; --quick: smoke-sized)
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
    ["end-to-end"] = EndToEndBenchmark.RunAsync,
    // Packages the app twice (Native AOT and JIT), so it adds about 20 minutes to a full run.
    ["cold-start"] = ColdStartBenchmark.RunAsync,
};

var quick = args.Contains("--quick", StringComparer.Ordinal);
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
var reports = new List<BenchmarkReport>();
foreach (var name in selected)
{
    await using var run = new BenchmarkRun(name, quick);
    var report = await benchmarks[name](run);
    report.Print(Console.Out);
    await report.WriteAsync(output);
    reports.Add(report);
}

// The run ends with one table of every figure beside its baseline, so nothing has to be gathered by hand.
var summary = BenchmarkReport.Summary(reports);
Console.WriteLine(summary);
await File.WriteAllTextAsync(Path.Combine(output, quick ? "summary-quick.md" : "summary.md"), summary);

return 0;
