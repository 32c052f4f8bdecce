using System.Collections.ObjectModel;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Omni.Functions.Hosting;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Omni.Tests.Telemetry;

/// <summary>
/// The app's telemetry pipeline (<see cref="TelemetrySetup.WithOmniSignals"/>) with in-memory exporters where Azure
/// Monitor's would be, and the instrumentation Azure Monitor's distro brings (ASP.NET Core, HttpClient).
/// Activity sources and meters are process-wide: a trace is told apart by the trace id a test's requests carry.
/// </summary>
internal sealed class TelemetryCapture
{
    public Captured<Activity> Spans { get; } = new();

    public Captured<MetricSnapshot> Metrics { get; } = new();

    public Captured<LogRecord> Logs { get; } = new();

    public void Register(IServiceCollection services) =>
        services.AddOpenTelemetry()
            .WithOmniSignals()
            .WithTracing(t => t.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddInMemoryExporter(Spans))
            .WithMetrics(m => m.AddInMemoryExporter(Metrics))
            .WithLogging(l => l.AddInMemoryExporter(Logs), o =>
            {
                o.IncludeScopes = true;
                o.IncludeFormattedMessage = true;
            });

    /// <summary>Exports the metrics measured so far (a reader exports only when collected).</summary>
    public static void Collect(IServiceProvider services) => services.GetRequiredService<MeterProvider>().ForceFlush();

    /// <summary>The spans of one trace that have ended.</summary>
    public IReadOnlyList<Activity> Trace(ActivityTraceId traceId) => [.. Spans.Snapshot().Where(s => s.TraceId == traceId)];

    /// <summary>The sum of a counter's last export over the points whose tags include <paramref name="tags"/>.</summary>
    public long Sum(string metric, params (string Key, string Value)[] tags)
    {
        var last = Metrics.Snapshot().LastOrDefault(m => m.Name == metric);
        return last is null ? 0 : last.MetricPoints
            .Where(p => tags.All(t => Tags(p).Any(kv => kv.Key == t.Key && Equals(kv.Value, t.Value))))
            .Sum(p => last.MetricType.IsHistogram() ? p.GetHistogramCount() : p.GetSumLong());
    }

    public static IReadOnlyList<KeyValuePair<string, object?>> Tags(MetricPoint point)
    {
        var tags = new List<KeyValuePair<string, object?>>();
        foreach (var tag in point.Tags)
        {
            tags.Add(tag);
        }

        return tags;
    }

    /// <summary>Every text a span, a metric point or a log record carries: names, tag values, events, messages, scopes.</summary>
    public IEnumerable<string> EveryText()
    {
        foreach (var span in Spans.Snapshot())
        {
            yield return span.DisplayName;
            foreach (var tag in span.TagObjects)
            {
                yield return $"{tag.Key}={tag.Value}";
            }

            foreach (var e in span.Events)
            {
                yield return e.Name;
                foreach (var tag in e.Tags)
                {
                    yield return $"{tag.Key}={tag.Value}";
                }
            }

            if (span.TraceStateString is { } state)
            {
                yield return state;
            }
        }

        foreach (var metric in Metrics.Snapshot())
        {
            foreach (var point in metric.MetricPoints)
            {
                foreach (var tag in Tags(point))
                {
                    yield return $"{tag.Key}={tag.Value}";
                }
            }
        }

        foreach (var log in Logs.Snapshot())
        {
            yield return log.FormattedMessage ?? "";
            yield return log.Body ?? "";
            foreach (var attribute in log.Attributes ?? [])
            {
                yield return $"{attribute.Key}={attribute.Value}";
            }

            var scopes = new List<string>();
            log.ForEachScope((scope, list) =>
            {
                foreach (var item in scope)
                {
                    list.Add($"{item.Key}={item.Value}");
                }
            }, scopes);
            foreach (var scope in scopes)
            {
                yield return scope;
            }
        }
    }
}

/// <summary>A collection exporters may add to from any thread, read by a snapshot.</summary>
internal sealed class Captured<T> : Collection<T>
{
    private readonly Lock _lock = new();

    public IReadOnlyList<T> Snapshot()
    {
        lock (_lock)
        {
            return [.. Items];
        }
    }

    protected override void InsertItem(int index, T item)
    {
        lock (_lock)
        {
            base.InsertItem(index, item);
        }
    }

    protected override void ClearItems()
    {
        lock (_lock)
        {
            base.ClearItems();
        }
    }
}
