using System.Globalization;

namespace Omni.Tests.Reliability;

/// <summary>
/// What one fault scenario measured. <see cref="Sent"/> counts the requests (or mails) of the burst, <see cref="Acknowledged"/>
/// those the app accepted (2xx); <see cref="Lost"/> acknowledged ones missing at the end, <see cref="Duplicates"/>
/// extra copies stored or sent, <see cref="Stuck"/> ones still queued or pending after recovery. Times are figures, never asserted.
/// </summary>
public sealed record Figures(
    string Scenario,
    int Sent,
    int Acknowledged,
    int Lost,
    int Duplicates,
    int Stuck,
    int Status5xx,
    double? RecoverySeconds,
    string Notes);

/// <summary>
/// Sizes and figures of the fault-injection suite. The default suite runs short bursts; scripts/reliability.sh sets
/// OMNI_RELIABILITY_SIZE for bigger ones (and runs the scenarios that fail today, which the default suite skips) and
/// OMNI_RELIABILITY_REPORT to collect every scenario's row in one Markdown table.
/// </summary>
public static class ReliabilityRun
{
    private static readonly object ReportLock = new();


    /// <summary>True under scripts/reliability.sh: the scenarios that fail today run too.</summary>
    public static bool Long => Environment.GetEnvironmentVariable("OMNI_RELIABILITY_SIZE") is { Length: > 0 };

    /// <summary>The burst size: <paramref name="small"/> in the default suite, times OMNI_RELIABILITY_SIZE in a long run.</summary>
    public static int Size(int small) =>
        int.TryParse(Environment.GetEnvironmentVariable("OMNI_RELIABILITY_SIZE"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var times) && times > 0
            ? small * times
            : small;

    public const string Header = "| scenario | sent | acknowledged | lost | duplicates | stuck | 5xx | recovery (s) | notes |\n|---|---|---|---|---|---|---|---|---|";

    public static string Row(Figures f) => string.Create(CultureInfo.InvariantCulture,
        $"| {f.Scenario} | {f.Sent} | {f.Acknowledged} | {f.Lost} | {f.Duplicates} | {f.Stuck} | {f.Status5xx} | {(f.RecoverySeconds is { } s ? s.ToString("0.0", CultureInfo.InvariantCulture) : "–")} | {f.Notes.Replace('|', '/')} |");

    /// <summary>Prints the row to the test's output and appends it to OMNI_RELIABILITY_REPORT; call it before asserting, so a failing scenario still reports.</summary>
    public static void Report(Figures figures)
    {
        var row = Row(figures);
        TestContext.Current.TestOutputHelper?.WriteLine(Header + "\n" + row);
        Console.WriteLine("RELIABILITY " + row);
        if (Environment.GetEnvironmentVariable("OMNI_RELIABILITY_REPORT") is { Length: > 0 } path)
        {
            lock (ReportLock)
            {
                File.AppendAllText(path, row + Environment.NewLine);
            }
        }
    }

    /// <summary>Asserts what a correct system does under the fault; the figures say by how much it missed.</summary>
    public static void AssertCorrect(Figures f, bool stuckAllowed = false)
    {
        Assert.True(f.Lost == 0 && f.Duplicates == 0 && (stuckAllowed || f.Stuck == 0) && f.Status5xx == 0 && f.Acknowledged > 0,
            $"{f.Scenario}: {f.Lost} lost, {f.Duplicates} duplicates, {f.Stuck} stuck, {f.Status5xx} answers of 5xx (of {f.Acknowledged} acknowledged, {f.Sent} sent). {f.Notes}");
    }
}
