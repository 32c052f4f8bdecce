using System.Diagnostics;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Reliability;

/// <summary>What the receive_hook scenarios share: the integrator's retries, and the count of what the channel stored.</summary>
internal static class ReceiveHookFaults
{
    public static HttpRequestMessage Call(TestOmniChannel channel, string prefix, int i) =>
        Burst.Post("/api/receive_hook", new { externalId = $"{prefix}-{i}", contact = new { externalId = $"cust-{i % 20}" }, text = $"message {i}" }, channel.ApiKey);

    /// <summary>
    /// The integrator retries every call that got no 2xx, with the same body, a second apart, until it gets one
    /// (bounded: an in-flight marker a killed request left answers 409 until it times out). Returns every retry's
    /// answer and the calls still unacknowledged.
    /// </summary>
    public static async Task<(List<Answer> Retries, List<int> Unacknowledged)> RetryAsync(FaultApp app, TestOmniChannel channel, string prefix, IEnumerable<Answer> answers, Stopwatch clock)
    {
        var retries = new List<Answer>();
        var pending = answers.Where(a => !a.Acknowledged).Select(a => a.Index).ToList();
        using var client = app.As(channel.ApiKey);
        for (var round = 0; round < 20 && pending.Count > 0; round++)
        {
            var current = pending;
            var results = await Burst.RunAsync(current.Count, 8, k => Call(channel, prefix, current[k]), client, clock: clock);
            retries.AddRange(results);
            pending = results.Where(r => !r.Acknowledged).Select(r => current[r.Index]).ToList();
            if (pending.Count > 0)
            {
                await Task.Delay(1000);
            }
        }

        return (retries, pending);
    }

    /// <summary>Of the acknowledged calls, how many are missing from the channel's history (by their messageId), how many extra copies it holds, and how many calls it does not hold at all.</summary>
    public static async Task<(int Lost, int Duplicates, int Missing)> TallyAsync(FaultApp app, TestOmniChannel channel, string prefix, int calls, IEnumerable<Answer> answers)
    {
        var stored = await app.ListAsync(channel.ApiKey, "/api/audit/messages?direction=inbound");
        var copies = stored.GroupBy(m => m["externalId"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.Select(m => m["id"]!.GetValue<string>()).ToList());
        var lost = answers.Where(a => a.Acknowledged)
            .Count(a => !(copies.TryGetValue($"{prefix}-{a.Index}", out var ids) && ids.Contains(a.Body!["messageId"]!.GetValue<string>())));
        var missing = Enumerable.Range(0, calls).Count(i => !copies.ContainsKey($"{prefix}-{i}"));
        return (lost, copies.Values.Sum(ids => ids.Count - 1), missing);
    }
}
