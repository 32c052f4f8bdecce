using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Benchmarks;

/// <summary>
/// The deployment package's cold start and idle memory, Native AOT beside the JIT build, measured by
/// scripts/bench-cold-start.sh (it packages both, starts each as the Functions host does with its files out of the page
/// cache) and read back from its JSON, so the figures join this run's summary.
/// </summary>
internal static class ColdStartBenchmark
{
    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var runs = run.Quick ? 5 : 7;
        var script = new ProcessStartInfo("bash", ["scripts/bench-cold-start.sh", "--runs", runs.ToString(CultureInfo.InvariantCulture), "--modes", "jit aot"])
        {
            WorkingDirectory = Repository.Root,
        };
        using (var process = Process.Start(script) ?? throw new InvalidOperationException("Could not start bash for scripts/bench-cold-start.sh."))
        {
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"scripts/bench-cold-start.sh failed (exit {process.ExitCode}); its output is above.");
            }
        }

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Repository.Root, "artifacts", "benchmarks", "cold-start.json")));
        var builds = json.RootElement.GetProperty("Rows").EnumerateArray().ToDictionary(r => r.GetProperty("Build").GetString()!, r => r);
        double Figure(string build, string name) => builds[build].GetProperty(name).GetDouble();
        // Not "cold-start": the script's own cold-start.md and .json, with the anonymous and file-backed parts, stay beside it.
        return new BenchmarkReport("cold-start-ratios",
            "Process start of the deployment package to the first 200 on /api/health and to the first accepted receive_hook, its files out of the page "
            + "cache, and its resident memory one second after that message (idle); Native AOT (the package) beside the JIT build, medians.",
            [
                new BenchmarkRow("start to the first 200 on /api/health", Figure("aot", "StartMs"), "ms", Figure("jit", "StartMs"), "the JIT build", TargetRatio: 0.4),
                new BenchmarkRow("start to the first receive_hook 202", Figure("aot", "ReceiveHookMs"), "ms", Figure("jit", "ReceiveHookMs"), "the JIT build", TargetRatio: 0.4),
                new BenchmarkRow("resident memory, idle", Figure("aot", "ResidentMB"), "MB", Figure("jit", "ResidentMB"), "the JIT build"),
                new BenchmarkRow("resident memory, idle, against the ceiling", Figure("aot", "ResidentMB"), "MB", 80, "issue 11's ceiling", TargetRatio: 1),
                new BenchmarkRow("the next receive_hook after the idle second", Figure("aot", "NextReceiveHookMs"), "ms", Figure("jit", "NextReceiveHookMs"), "the JIT build"),
                new BenchmarkRow("zip size", Figure("aot", "ZipMB"), "MB", Figure("jit", "ZipMB"), "the JIT build"),
            ],
            new Dictionary<string, string>
            {
                ["runs"] = $"{runs} per build after one warm-up, builds started in turn (scripts/bench-cold-start.sh --runs {runs} --modes \"jit aot\")",
                ["details"] = "artifacts/benchmarks/cold-start.md (anonymous and file-backed parts of the resident set)",
            });
    }
}
