using System.Text.RegularExpressions;
using Omni.Tests.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Reliability;

/// <summary>What the e-mail scenarios share: an app that polls fast, a channel on the real Dovecot/Postfix, customers' conversations, and the tally of replies in their mailboxes.</summary>
internal static partial class EmailFaults
{
    public static Dictionary<string, string> Environment(MailServerProcess servers) => new()
    {
        ["Omni__Triggers__FunctionsDirectory"] = FunctionsFolder.WithSchedules(("MailboxPollTimer", "*/2 * * * * *"), ("OutboxSweep", "*/5 * * * * *")),
        ["Omni__Conversations__OutboxGrace"] = "00:00:05",
        ["Omni__Email__PollTick"] = "00:00:02",
        ["Omni__Email__LeaseDuration"] = "00:00:05",
        ["Omni__Email__TrustedCertificatesFile"] = servers.CertificateFile,
        ["Omni__Email__AllowPrivateHosts"] = "true",
        ["Omni__Email__OperationTimeout"] = "00:00:08",
    };

    /// <summary>The channel's settings, TLS both ways, with the ports the scenario chooses (a proxy's, or the servers' own).</summary>
    public static object Settings(TestMailbox mailbox, int imapsPort, int smtpsPort) => new
    {
        address = mailbox.Address,
        displayName = "Suporte",
        password = mailbox.Password,
        incoming = new { protocol = "imap", host = "127.0.0.1", port = imapsPort, ssl = true },
        outgoing = new { host = "127.0.0.1", port = smtpsPort, ssl = true },
        pollSeconds = 10,
    };

    /// <summary>Each customer writes in (through Postfix); waits, bounded, until the app has a conversation for every one of them.</summary>
    public static async Task<List<string>> ConversationsAsync(FaultApp app, TestTenant tenant, string channelId, MailServerProcess servers, TestMailbox agent, IReadOnlyList<TestMailbox> customers)
    {
        foreach (var customer in customers)
        {
            await servers.SendAsync(customer.Address, agent.Address, "Pedido", "Preciso de ajuda.");
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var conversations = await app.ListAsync(tenant.ManagementKey, $"/api/companies/{tenant.CompanyId}/conversations?channelId={channelId}");
            if (conversations.Count >= customers.Count)
            {
                return conversations.Select(c => c["id"]!.GetValue<string>()).ToList();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{conversations.Count} of {customers.Count} conversations after 60 s.\n{app.Process.Output[^Math.Min(app.Process.Output.Length, 3000)..]}");
            }

            await Task.Delay(500);
        }
    }

    public static HttpRequestMessage Reply(TestTenant tenant, IReadOnlyList<string> conversations, int i) =>
        Burst.Post($"/api/companies/{tenant.CompanyId}/conversations/{conversations[i % conversations.Count]}/messages", new { text = $"Resposta R{i}Z." }, tenant.ManagementKey);

    /// <summary>
    /// Waits (bounded) until no agent message of the channel is queued, lets Postfix deliver, then counts every reply
    /// in the customers' mailboxes by its marker: lost = acknowledged, never arrived and not failed visibly,
    /// unknown = acknowledged, never arrived and failed as "Delivery is unknown" (the one outcome SMTP cannot settle:
    /// the connection went after the server had every byte; the agent is asked to check with the customer),
    /// duplicates = extra copies, stuck = messages still queued.
    /// </summary>
    public static async Task<(int Lost, int Unknown, int Duplicates, int Stuck, string Notes)> SettleAsync(FaultApp app, TestTenant tenant, string channelId, MailServerProcess servers,
        IReadOnlyList<TestMailbox> customers, IReadOnlyList<Answer> replies, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        List<System.Text.Json.Nodes.JsonObject> outbound;
        while (true)
        {
            outbound = (await app.ChannelMessagesAsync(tenant, channelId)).Where(m => m["direction"]!.GetValue<string>() == "outbound").ToList();
            if (outbound.All(m => m["status"]!.GetValue<string>() != "queued") || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        var arrived = new Dictionary<int, int>();
        var settle = DateTime.UtcNow.AddSeconds(20);
        var expected = replies.Count(r => r.Acknowledged);
        while (true)
        {
            // Postfix hands mail to Dovecot within a second or two; a late duplicate gets that long to show up too.
            await Task.Delay(2000);
            arrived.Clear();
            foreach (var customer in customers)
            {
                foreach (var (message, _, _) in await servers.ReadInboxAsync(customer))
                {
                    foreach (Match m in Marker().Matches(message.TextBody ?? message.HtmlBody ?? ""))
                    {
                        var i = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                        arrived[i] = arrived.GetValueOrDefault(i) + 1;
                    }
                }
            }

            if (replies.Where(r => r.Acknowledged).All(r => arrived.ContainsKey(r.Index)) || DateTime.UtcNow > settle)
            {
                break;
            }
        }

        var unknownIndexes = outbound
            .Where(m => m["status"]!.GetValue<string>() == "failed" && (m["error"]?.GetValue<string>() ?? "").StartsWith(UnknownError, StringComparison.Ordinal))
            .SelectMany(m => Marker().Matches(m["text"]?.GetValue<string>() ?? "").Select(x => int.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToHashSet();
        var unknown = replies.Count(r => r.Acknowledged && !arrived.ContainsKey(r.Index) && unknownIndexes.Contains(r.Index));
        var lost = replies.Count(r => r.Acknowledged && !arrived.ContainsKey(r.Index)) - unknown;
        var duplicates = arrived.Values.Sum(n => n - 1);
        var byStatus = string.Join(", ", outbound.GroupBy(m => m["status"]!.GetValue<string>()).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}×{g.Count()}"));
        var sentUnacknowledged = replies.Count(r => !r.Acknowledged && arrived.ContainsKey(r.Index));
        var stuck = outbound.Count(m => m["status"]!.GetValue<string>() == "queued");
        // Why messages failed is what a reader of a failed run needs first.
        var reasons = string.Join(" | ", outbound.Where(m => m["status"]!.GetValue<string>() == "failed").Select(m => m["error"]?.GetValue<string>() ?? "no error given")
            .GroupBy(e => e, StringComparer.Ordinal).Select(g => $"{g.Count()}× {g.Key}"));
        byStatus = reasons.Length == 0 ? byStatus : $"{byStatus} (failed: {reasons})";
        return (lost, unknown, duplicates, stuck, $"agent messages: {byStatus}; {arrived.Count} distinct replies arrived ({arrived.Values.Sum()} mails, {sentUnacknowledged} of them for a POST that got no 2xx); {expected} acknowledged; {unknown} failed visibly as delivery unknown and did not arrive");
    }

    private const string UnknownError = "Delivery is unknown";

    // Each reply's text carries its index; the marker cannot occur in a signature or a quoted header.
    [GeneratedRegex(@"\bR(\d+)Z\b")]
    private static partial Regex Marker();
}
