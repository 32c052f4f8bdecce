using System.Diagnostics;
using System.Globalization;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Channels;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Benchmarks;

/// <summary>
/// email-ingest: how fast a mailbox of 1,000 messages is ingested (stored raw, parsed, threaded, \Seen) beside a
/// plain MailKit fetch of the same mailbox in the same run, and what an idle poll and an idle timer tick cost in
/// storage transactions and IMAP commands.
/// </summary>
internal static class EmailIngestBenchmark
{
    private const int MessageCount = 1000;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        var servers = run.Own(await MailServerProcess.StartAsync());
        var mailbox = $"bench-{Guid.NewGuid():N}"[..16] + "@" + MailServerProcess.Domain;
        const string password = "bench-password";
        servers.AddUser(mailbox, password);
        await FillAsync(servers, mailbox, password, MessageCount);

        StorageTransactionCounter storageCalls = null!;
        var (app, channel) = await EmailBenchmarkHost.StartAsync(azurite, servers, mailbox, password,
            new Dictionary<string, string?> { ["Omni:Email:MaxMessagesPerPoll"] = MessageCount.ToString(CultureInfo.InvariantCulture) },
            services => storageCalls = StorageTransactionCounter.AttachTo(services));
        using var host = app;
        var poller = host.Services.GetRequiredService<IEnumerable<IMailboxPoller>>().Single(p => p.ChannelType == ChannelTypes.Email);
        var imap = host.Services.GetRequiredService<ImapMailboxPoller>();

        // Baseline: a plain MailKit client reading every unseen message of the same mailbox (read-only, changes nothing).
        // Three times, the median: the machine is shared and one fetch takes about a second.
        var fetches = new List<(TimeSpan Elapsed, int Count)>();
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            var count = await PlainFetchAsync(servers, mailbox, password);
            fetches.Add((watch.Elapsed, count));
        }

        var (baselineElapsed, fetched) = fetches.OrderBy(f => f.Elapsed).ElementAt(1);

        storageCalls.Reset();
        var ingest = Stopwatch.StartNew();
        var ingested = 0;
        while (ingested < MessageCount)
        {
            var result = await poller.PollAsync(channel);
            if (result.Ingested == 0)
            {
                throw new InvalidOperationException($"A poll ingested nothing after {ingested} of {MessageCount}.");
            }

            ingested += result.Ingested;
        }

        ingest.Stop();
        var ingestCalls = Tally(storageCalls);

        // An idle poll: nothing new on the server.
        var commands = new CommandCounter();
        imap.ProtocolLoggerFactory = () => commands;
        storageCalls.Reset();
        var idle = await poller.PollAsync(channel);
        var idleCalls = Tally(storageCalls);
        imap.ProtocolLoggerFactory = null;
        if (idle.Ingested != 0)
        {
            throw new InvalidOperationException("The idle poll ingested something.");
        }

        var minimal = new CommandCounter();
        await MinimalSessionAsync(servers, mailbox, password, minimal);

        // An idle timer tick with this one mailbox (due or not, it is one listing plus one queue write per due poll).
        storageCalls.Reset();
        var queued = await host.Services.GetRequiredService<MailboxPollScheduler>().TickAsync(DateTimeOffset.UtcNow);
        var tickCalls = Tally(storageCalls);

        await host.StopAsync();
        var ingestRate = MessageCount / ingest.Elapsed.TotalSeconds;
        var fetchRate = fetched / baselineElapsed.TotalSeconds;
        return new BenchmarkReport("email-ingest",
            "Ingesting a 1,000-message IMAP mailbox (raw MIME to Blob Storage, conversation threading in Table Storage, \\Seen set after storing) "
            + "beside a plain MailKit fetch of the same mailbox in the same run; and what an idle poll and an idle timer tick cost.",
            [
                new BenchmarkRow("ingest rate", ingestRate, "msg/s", fetchRate, "plain MailKit fetch, median of 3"),
                new BenchmarkRow("ingest time, 1,000 messages", ingest.Elapsed.TotalSeconds, "s", baselineElapsed.TotalSeconds, "plain MailKit fetch"),
                new BenchmarkRow("storage transactions per ingested message", (double)ingestCalls.Total / MessageCount, "calls"),
                new BenchmarkRow("idle poll: storage transactions", idleCalls.Total, "calls"),
                new BenchmarkRow("idle poll: storage writes", idleCalls.Writes, "calls"),
                new BenchmarkRow("idle poll: IMAP commands", commands.Commands, "commands", minimal.Commands, "LOGIN+SELECT+SEARCH+LOGOUT by hand"),
                new BenchmarkRow("idle timer tick (1 mailbox): storage transactions", tickCalls.Total, "calls"),
                new BenchmarkRow("idle timer tick: polls queued", queued, "messages"),
            ],
            new Dictionary<string, string>
            {
                ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
                ["servers"] = "Dovecot IMAPS on loopback (TLS), Azurite in memory",
                ["messages"] = $"{MessageCount} × ~2 KB text+HTML, 20 senders",
                ["storage calls while ingesting"] = string.Join(", ", ingestCalls.ByKind.Select(p => $"{p.Key} {p.Value}")),
                ["idle poll storage calls"] = string.Join(", ", idleCalls.ByKind.Select(p => $"{p.Key} {p.Value}")),
            });
    }

    private static async Task FillAsync(MailServerProcess servers, string mailbox, string password, int count)
    {
        using var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", servers.ImapPort, SecureSocketOptions.None);
        await client.AuthenticateAsync(mailbox, password);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var text = string.Join(' ', Enumerable.Repeat("Olá, gostaria de saber sobre o meu pedido e a entrega.", 20));
        for (var i = 0; i < count; i += 100)
        {
            var batch = Enumerable.Range(i, Math.Min(100, count - i)).Select(n =>
            {
                var m = new MimeMessage();
                m.From.Add(new MailboxAddress($"Cliente {n % 20}", $"cliente{n % 20}@{MailServerProcess.CustomerDomain}"));
                m.To.Add(MailboxAddress.Parse(mailbox));
                m.Subject = $"Pedido {n}";
                m.MessageId = $"bench-{n}-{Guid.NewGuid():N}@{MailServerProcess.CustomerDomain}";
                m.Body = new BodyBuilder { TextBody = text, HtmlBody = $"<p>{text}</p>" }.ToMessageBody();
                return (IAppendRequest)new AppendRequest(m, MessageFlags.None);
            }).ToList();
            await client.Inbox.AppendAsync(batch);
        }

        await client.DisconnectAsync(true);
    }

    private static async Task<int> PlainFetchAsync(MailServerProcess servers, string mailbox, string password)
    {
        using var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", servers.ImapsPort, SecureSocketOptions.SslOnConnect);
        await client.AuthenticateAsync(mailbox, password);
        await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var uids = await client.Inbox.SearchAsync(SearchQuery.NotSeen);
        var bytes = 0L;
        foreach (var uid in uids)
        {
            using var stream = await client.Inbox.GetStreamAsync(uid);
            var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            bytes += buffer.Length;
        }

        await client.DisconnectAsync(true);
        return uids.Count;
    }

    private static async Task MinimalSessionAsync(MailServerProcess servers, string mailbox, string password, CommandCounter counter)
    {
        using var client = new ImapClient(counter) { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", servers.ImapsPort, SecureSocketOptions.SslOnConnect);
        await client.AuthenticateAsync(mailbox, password);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
        await client.Inbox.SearchAsync(SearchQuery.NotSeen);
        await client.DisconnectAsync(true);
    }

    /// <summary>Counts the commands a MailKit client sends (one per CRLF-terminated client line); logs nothing.</summary>
    private sealed class CommandCounter : IProtocolLogger
    {
        public int Commands { get; private set; }

        public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

        public void LogConnect(Uri uri)
        {
        }

        public void LogClient(byte[] buffer, int offset, int count)
        {
            for (var i = offset; i < offset + count; i++)
            {
                if (buffer[i] == (byte)'\n')
                {
                    Commands++;
                }
            }
        }

        public void LogServer(byte[] buffer, int offset, int count)
        {
        }

        public void Dispose()
        {
        }
    }

    private static (long Total, long Writes, IReadOnlyDictionary<string, long> ByKind) Tally(StorageTransactionCounter counter)
    {
        var snapshot = counter.Snapshot();
        // Labels read "<service> <METHOD> ...": everything but GET and HEAD changes something.
        return (snapshot.Values.Sum(), snapshot.Where(p => p.Key.Split(' ')[1] is not ("GET" or "HEAD")).Sum(p => p.Value), snapshot);
    }
}
