using System.Diagnostics;

namespace Omni.Benchmarks;

/// <summary>Throughput and latency percentiles of one measured round.</summary>
public sealed record LoadResult(double Throughput, double P50, double P99, int Failures, int Count)
{
    public static LoadResult From(double[] latencies, TimeSpan wall, int failures)
    {
        Array.Sort(latencies);
        var n = latencies.Length;
        return new LoadResult(n / wall.TotalSeconds, latencies[n / 2], latencies[Math.Min(n - 1, (int)(n * 0.99))], failures, n);
    }

    /// <summary>The median of several rounds' figures, each figure on its own (rounds interleave with the baseline's).</summary>
    public static LoadResult Median(IReadOnlyList<LoadResult> rounds)
    {
        static double Mid(IEnumerable<double> v)
        {
            var s = v.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
        }

        return new LoadResult(Mid(rounds.Select(r => r.Throughput)), Mid(rounds.Select(r => r.P50)), Mid(rounds.Select(r => r.P99)),
            rounds.Sum(r => r.Failures), rounds.Sum(r => r.Count));
    }
}

/// <summary>
/// The one load generator every HTTP benchmark and its baseline share, so both sides see the same client work.
/// Closed loop: a fixed number of calls in flight, each started when one ends (measures capacity; hides queueing).
/// Open loop: calls started on a fixed schedule whatever the answers, latency counted from each call's intended
/// start, so a stall shows in the percentiles instead of slowing the generator down (no coordinated omission).
/// </summary>
public static class LoadGenerator
{
    public static async Task<LoadResult> ClosedLoopAsync(int count, int concurrency, Func<int, Task<bool>> call)
    {
        var latencies = new double[count];
        var failures = 0;
        var next = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var started = Stopwatch.GetTimestamp();
                if (!await SafeAsync(call, i))
                {
                    Interlocked.Increment(ref failures);
                }

                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }));
        return LoadResult.From(latencies, wall.Elapsed, failures);
    }

    /// <summary><paramref name="count"/> calls at <paramref name="ratePerSecond"/>; throughput is completions over the time to the last one.</summary>
    public static async Task<LoadResult> OpenLoopAsync(int count, double ratePerSecond, Func<int, Task<bool>> call)
    {
        var latencies = new double[count];
        var failures = 0;
        var calls = new Task[count];
        var origin = Stopwatch.GetTimestamp();
        var interval = Stopwatch.Frequency / ratePerSecond;
        for (var i = 0; i < count; i++)
        {
            var intended = origin + (long)(i * interval);
            // Task.Delay has ~1 ms granularity at best: sleep while far, then yield until the moment.
            while (Stopwatch.GetTimestamp() < intended)
            {
                var remaining = (intended - Stopwatch.GetTimestamp()) * 1000.0 / Stopwatch.Frequency;
                if (remaining > 2)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(remaining - 1));
                }
                else
                {
                    await Task.Yield();
                }
            }

            var index = i;
            calls[i] = Task.Run(async () =>
            {
                if (!await SafeAsync(call, index))
                {
                    Interlocked.Increment(ref failures);
                }

                latencies[index] = (Stopwatch.GetTimestamp() - intended) * 1000.0 / Stopwatch.Frequency;
            });
        }

        await Task.WhenAll(calls);
        return LoadResult.From(latencies, Stopwatch.GetElapsedTime(origin), failures);
    }

    private static async Task<bool> SafeAsync(Func<int, Task<bool>> call, int i)
    {
        try
        {
            return await call(i);
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
