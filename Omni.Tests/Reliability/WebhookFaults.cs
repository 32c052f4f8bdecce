using System.Net;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;

namespace Omni.Tests.Reliability;

/// <summary>What the webhook scenarios share: conversations on an omni channel, agents' replies to them, and the tally of what reached the sink.</summary>
internal static class WebhookFaults
{
    /// <summary>One conversation per contact, opened by receive_hook; their ids.</summary>
    public static async Task<List<string>> ConversationsAsync(FaultApp app, TestOmniChannel channel, int count)
    {
        using var client = app.As(channel.ApiKey);
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var answer = await Burst.SendAsync(client, Burst.Post("/api/receive_hook", new { externalId = $"open-{i}", contact = new { externalId = $"contact-{i}" }, text = "Olá" }, channel.ApiKey), i, System.Diagnostics.Stopwatch.StartNew());
            Assert.True(answer.Acknowledged, $"Opening conversation {i} answered {answer.Status}.");
            ids.Add(answer.Body!["conversationId"]!.GetValue<string>());
        }

        return ids;
    }

    public static HttpRequestMessage Reply(TestOmniChannel channel, IReadOnlyList<string> conversations, int i) =>
        Burst.Post($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversations[i % conversations.Count]}/messages", new { text = $"reply {i}" }, channel.Tenant.ManagementKey);

    /// <summary>
    /// Waits (bounded) until no delivery is pending and no agent message is queued, then counts: every acknowledged
    /// message must have reached the sink under exactly one webhook-id (a repeat of the same id is allowed: receivers
    /// dedupe by it) and its delivery must have ended succeeded or visibly failed.
    /// </summary>
    public static async Task<(int Lost, int Duplicates, int Stuck, string Notes)> SettleAsync(FaultApp app, TestOmniChannel channel, WebhookSink sink, IReadOnlyList<Answer> replies, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        List<JsonObject> deliveries, outbound;
        while (true)
        {
            deliveries = await app.ListAsync(channel.ApiKey, "/api/audit/deliveries");
            outbound = await app.ListAsync(channel.ApiKey, "/api/audit/messages?direction=outbound");
            var busy = deliveries.Count(d => d["status"]!.GetValue<string>() == "pending") + outbound.Count(m => m["status"]!.GetValue<string>() == "queued");
            if (busy == 0 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        // Give a stray late duplicate the chance to arrive before counting.
        await Task.Delay(1500);
        var requests = sink.Requests;
        var idsByMessage = requests
            .Select(r => (r.WebhookId, MessageId: JsonNode.Parse(r.Body)?["data"]?["messageId"]?.GetValue<string>()))
            .Where(r => r.MessageId is not null)
            .GroupBy(r => r.MessageId!)
            .ToDictionary(g => g.Key, g => g.Select(r => r.WebhookId).Distinct().Count());
        var acknowledged = replies.Where(a => a.Acknowledged).Select(a => a.Body!["messageId"]!.GetValue<string>()).ToList();
        var lost = acknowledged.Count(id => !idsByMessage.ContainsKey(id));
        var duplicates = idsByMessage.Values.Sum(n => n - 1);
        var pending = deliveries.Count(d => d["status"]!.GetValue<string>() == "pending");
        var queued = outbound.Count(m => m["status"]!.GetValue<string>() == "queued");
        var byStatus = string.Join(", ", deliveries.GroupBy(d => d["status"]!.GetValue<string>()).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}×{g.Count()}"));
        var notes = $"deliveries: {byStatus}; {pending} pending, {queued} messages still queued; sink: {requests.Count} requests, {requests.Select(r => r.WebhookId).Distinct().Count()} distinct webhook-ids";
        return (lost, duplicates, pending + queued, notes);
    }

    /// <summary>The attempts of a sample of deliveries: how many each took and the median wait between attempt n and n+1.</summary>
    public static async Task<string> ScheduleAsync(FaultApp app, TestOmniChannel channel, int sample)
    {
        using var client = app.As(channel.ApiKey);
        var gaps = new Dictionary<int, List<double>>();
        var attempts = new List<int>();
        foreach (var d in (await app.ListAsync(channel.ApiKey, "/api/audit/deliveries")).Take(sample))
        {
            var full = await Arrange.ReadAsync(await client.GetAsync($"/api/audit/deliveries/{d["id"]!.GetValue<string>()}"), HttpStatusCode.OK);
            var at = full["attempts"]!.AsArray().Select(a => a!["at"]!.GetValue<DateTimeOffset>()).Order().ToList();
            attempts.Add(at.Count);
            for (var n = 1; n < at.Count; n++)
            {
                (gaps.TryGetValue(n, out var list) ? list : gaps[n] = []).Add((at[n] - at[n - 1]).TotalSeconds);
            }
        }

        static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
        return $"attempts per delivery: {string.Join(", ", attempts.GroupBy(a => a).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}"))}; median gap before attempt " +
            string.Join(", ", gaps.OrderBy(g => g.Key).Take(5).Select(g => $"{g.Key + 1}: {Median(g.Value):0.0} s"));
    }
}
