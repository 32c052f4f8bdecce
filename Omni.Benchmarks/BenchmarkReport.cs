using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Omni.Benchmarks;

/// <summary>
/// One measured figure beside its baseline from the same run. <see cref="Ratio"/> is product / baseline, so
/// "lower is better" figures (latency, transactions) read below 1 as better and throughput figures above 1.
/// <see cref="TargetRatio"/> is issue 11's target for that ratio where it sets one (≥ for throughput, ≤ otherwise).
/// </summary>
public sealed record BenchmarkRow(string Metric, double Value, string Unit, double? Baseline = null, string? BaselineName = null,
    double? TargetRatio = null, bool HigherIsBetter = false)
{
    public double? Ratio => Baseline is > 0 ? Value / Baseline : null;

    public bool? Met => TargetRatio is { } t && Ratio is { } r ? (HigherIsBetter ? r >= t : r <= t) : null;

    public string TargetText => TargetRatio is { } t
        ? $"{(HigherIsBetter ? "≥" : "≤")} {t.ToString("0.##", CultureInfo.InvariantCulture)}× {(Met == true ? "met" : "not met")}"
        : "";
}

public sealed record BenchmarkReport(string Name, string Description, IReadOnlyList<BenchmarkRow> Rows, IReadOnlyDictionary<string, string>? Conditions = null)
{
    public void Print(TextWriter writer) => writer.WriteLine(ToMarkdown());

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"## {Name}").AppendLine().AppendLine(Description).AppendLine();
        foreach (var (key, value) in Conditions ?? new Dictionary<string, string>())
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- {key}: {value}");
        }

        sb.AppendLine().AppendLine("| metric | value | baseline | ratio | target |").AppendLine("|---|---:|---:|---:|---|");
        foreach (var r in Rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Metric} | {Format(r.Value)} {r.Unit} | {BaselineText(r)} | {RatioText(r)} | {r.TargetText} |");
        }

        return sb.ToString();
    }

    /// <summary>One table of every figure that has a baseline, across the benchmarks of a run: what bench.sh ends with.</summary>
    public static string Summary(IEnumerable<BenchmarkReport> reports)
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Summary: each figure beside its baseline (same run)").AppendLine();
        sb.AppendLine("| benchmark | metric | value | baseline | ratio | target |").AppendLine("|---|---|---:|---:|---:|---|");
        foreach (var report in reports)
        {
            foreach (var r in report.Rows.Where(r => r.Baseline is not null))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {report.Name} | {r.Metric.Trim()} | {Format(r.Value)} {r.Unit} | {BaselineText(r)} | {RatioText(r)} | {r.TargetText} |");
            }
        }

        return sb.ToString();
    }

    private static string BaselineText(BenchmarkRow r) => r.Baseline is { } b ? $"{Format(b)} {r.Unit} ({r.BaselineName})" : "—";

    private static string RatioText(BenchmarkRow r) => r.Ratio is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";

    public async Task WriteAsync(string directory, CancellationToken cancellationToken = default)
    {
        await File.WriteAllTextAsync(Path.Combine(directory, Name + ".md"), ToMarkdown(), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, Name + ".json"),
            JsonSerializer.Serialize(new { Name, Description, Conditions, Rows = Rows.Select(r => new { r.Metric, r.Value, r.Unit, r.Baseline, r.BaselineName, r.Ratio, r.TargetRatio, r.Met }) },
                new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
    }

    private static string Format(double v) => v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);
}
