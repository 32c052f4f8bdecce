using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Omni.Benchmarks;

/// <summary>
/// One measured figure beside its baseline from the same run. <see cref="Ratio"/> is product / baseline, so
/// "lower is better" figures (latency, transactions) read below 1 as better and throughput figures above 1.
/// </summary>
public sealed record BenchmarkRow(string Metric, double Value, string Unit, double? Baseline = null, string? BaselineName = null)
{
    public double? Ratio => Baseline is > 0 ? Value / Baseline : null;
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

        sb.AppendLine().AppendLine("| metric | value | baseline | ratio |").AppendLine("|---|---:|---:|---:|");
        foreach (var r in Rows)
        {
            var baseline = r.Baseline is { } b ? $"{Format(b)} {r.Unit} ({r.BaselineName})" : "—";
            var ratio = r.Ratio is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Metric} | {Format(r.Value)} {r.Unit} | {baseline} | {ratio} |");
        }

        return sb.ToString();
    }

    public async Task WriteAsync(string directory, CancellationToken cancellationToken = default)
    {
        await File.WriteAllTextAsync(Path.Combine(directory, Name + ".md"), ToMarkdown(), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, Name + ".json"),
            JsonSerializer.Serialize(new { Name, Description, Conditions, Rows = Rows.Select(r => new { r.Metric, r.Value, r.Unit, r.Baseline, r.BaselineName, r.Ratio }) },
                new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
    }

    private static string Format(double v) => v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);
}
