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
/// email-ingest: how fast a mailbox of 1,000 messages is ingested (stored raw, parsed, threaded, \Seen) beside its
/// fair baseline in the same run, interleaved: a plain MailKit fetch of an identical mailbox plus the same per-mail
/// parsing and storage calls made directly with the Azure SDK (the raw MIME uploaded, the routing row read, the
/// message, audit and idempotency rows in one transaction), one mail after the other. Twice: plain mail from 20
/// senders, and a threaded mailbox (each mail answers its sender's previous one with In-Reply-To and References,
/// which the baseline also looks up). Also what an idle poll and an idle timer tick cost.
/// </summary>
internal static class EmailIngestBenchmark
{
    private const int MessageCount = 1000;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        var servers = run.Own(await MailServerProcess.StartAsync());
        const string password = "bench-password";
        string NewMailbox()
        {
            var address = $"bench-{Guid.NewGuid():N}"[..16] + "@" + MailServerProcess.Domain;
            servers.AddUser(address, password);
            return address;
        }

        var (mailbox, threadedBox, baseline, threadedBaseline) = (NewMailbox(), NewMailbox(), NewMailbox(), NewMailbox());
        await FillAsync(servers, mailbox, password, MessageCount, threaded: false);
        await FillAsync(servers, baseline, password, MessageCount, threaded: false);
        await FillAsync(servers, threadedBox, password, MessageCount, threaded: true);
        await FillAsync(servers, threadedBaseline, password, MessageCount, threaded: true);

        StorageTransactionCounter storageCalls = null!;
        var (app, channel) = await EmailBenchmarkHost.StartAsync(azurite, servers, mailbox, password,
            new Dictionary<string, string?> { ["Omni:Email:MaxMessagesPerPoll"] = MessageCount.ToString(CultureInfo.InvariantCulture) },
            services => storageCalls = StorageTransactionCounter.AttachTo(services));
        using var host = app;
        var threadedChannel = await EmailBenchmarkHost.AddChannelAsync(host, servers, threadedBox, password);
        var poller = host.Services.GetRequiredService<IEnumerable<IMailboxPoller>>().Single(p => p.ChannelType == ChannelTypes.Email);
        var imap = host.Services.GetRequiredService<ImapMailboxPoller>();
        var direct = new DirectIngest(azurite.ConnectionString);
        await direct.CreateAsync();

        // Interleaved on this shared machine: baseline, product, baseline, for each mailbox; the baseline is the mean
        // of the two around the product. The baseline mailboxes are opened read-only, so they can be read again.
        var fetchOnly = await TimeAsync(() => PlainFetchAsync(servers, baseline, password, null));
        var plainBefore = await TimeAsync(() => PlainFetchAsync(servers, baseline, password, direct));
        storageCalls.Reset();
        var ingest = await TimeAsync(() => IngestAllAsync(poller, channel));
        var ingestCalls = Tally(storageCalls);
        var plainAfter = await TimeAsync(() => PlainFetchAsync(servers, baseline, password, direct));
        var threadedBefore = await TimeAsync(() => PlainFetchAsync(servers, threadedBaseline, password, direct));
        storageCalls.Reset();
        var threaded = await TimeAsync(() => IngestAllAsync(poller, threadedChannel));
        var threadedCalls = Tally(storageCalls);
        var threadedAfter = await TimeAsync(() => PlainFetchAsync(servers, threadedBaseline, password, direct));
        var plainBaseline = (plainBefore + plainAfter) / 2;
        var threadedBaselineTime = (threadedBefore + threadedAfter) / 2;

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
        double Rate(TimeSpan t) => MessageCount / t.TotalSeconds;
        return new BenchmarkReport("email-ingest",
            "Ingesting a 1,000-message IMAP mailbox (raw MIME to Blob Storage, conversation threading in Table Storage, \\Seen set after storing) "
            + "beside its fair baseline in the same run, interleaved: a plain MailKit fetch of an identical mailbox plus the same per-mail parsing and "
            + "storage calls made directly with the Azure SDK; plain mail, then a threaded mailbox; and what an idle poll and an idle timer tick cost.",
            [
                new BenchmarkRow("ingest rate, plain mail", Rate(ingest), "msg/s", Rate(plainBaseline), "fetch + parse + same storage calls, direct"),
                new BenchmarkRow("ingest rate, threaded mail", Rate(threaded), "msg/s", Rate(threadedBaselineTime), "fetch + parse + same storage calls + key read, direct"),
                new BenchmarkRow("ingest rate, plain mail, against the fetch alone", Rate(ingest), "msg/s", Rate(fetchOnly), "plain MailKit fetch, nothing stored"),
                new BenchmarkRow("storage requests per ingested message, plain", (double)ingestCalls.Total / MessageCount, "calls", direct.RequestsPerMail(threaded: false), "the direct baseline's"),
                new BenchmarkRow("storage requests per ingested message, threaded", (double)threadedCalls.Total / MessageCount, "calls", direct.RequestsPerMail(threaded: true), "the direct baseline's"),
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
                ["messages"] = $"{MessageCount} × ~2 KB text+HTML, 20 senders; threaded: each mail answers its sender's previous one (In-Reply-To, References)",
                ["order"] = "baseline, product, baseline (plain); baseline, product, baseline (threaded); the baseline is the mean of the two around the product",
                ["baseline times"] = string.Create(CultureInfo.InvariantCulture, $"plain {plainBefore.TotalSeconds:0.00}/{plainAfter.TotalSeconds:0.00} s, threaded {threadedBefore.TotalSeconds:0.00}/{threadedAfter.TotalSeconds:0.00} s, fetch alone {fetchOnly.TotalSeconds:0.00} s; product {ingest.TotalSeconds:0.00} s / {threaded.TotalSeconds:0.00} s"),
                ["storage calls while ingesting"] = string.Join(", ", ingestCalls.ByKind.Select(p => $"{p.Key} {p.Value}")),
                ["storage calls while ingesting threaded"] = string.Join(", ", threadedCalls.ByKind.Select(p => $"{p.Key} {p.Value}")),
                ["idle poll storage calls"] = string.Join(", ", idleCalls.ByKind.Select(p => $"{p.Key} {p.Value}")),
            });
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> work)
    {
        var watch = Stopwatch.StartNew();
        await work();
        return watch.Elapsed;
    }

    private static async Task IngestAllAsync(IMailboxPoller poller, Channel channel)
    {
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
    }

    /// <summary>
    /// The baseline's storage: what a direct implementation calls for each mail with the Azure SDK, one mail after the
    /// other: the raw MIME uploaded (If-None-Match), the contact's routing row read (and, for a reply, its parent's key
    /// row), and the message, audit and idempotency rows added in one entity-group transaction.
    /// </summary>
    private sealed class DirectIngest(string connectionString)
    {
        private readonly Azure.Storage.Blobs.BlobContainerClient _blobs = new(connectionString, "bench-direct");
        private readonly Azure.Data.Tables.TableClient _table = new(connectionString, "BenchDirect");

        public async Task CreateAsync()
        {
            await _blobs.CreateIfNotExistsAsync();
            await _table.CreateIfNotExistsAsync();
        }

        public double RequestsPerMail(bool threaded) => threaded ? 4 : 3;

        public async Task StoreAsync(MemoryStream raw)
        {
            raw.Position = 0;
            var message = await MimeMessage.LoadAsync(raw);
            var (text, html) = (message.TextBody, message.HtmlBody);
            var run = Guid.NewGuid().ToString("N");
            raw.Position = 0;
            await _blobs.GetBlobClient($"{run}/message.eml").UploadAsync(raw, new Azure.Storage.Blobs.Models.BlobUploadOptions { Conditions = new Azure.Storage.Blobs.Models.BlobRequestConditions { IfNoneMatch = Azure.ETag.All } });
            const string partition = "company";
            if (message.InReplyTo is { } parent)
            {
                await _table.GetEntityIfExistsAsync<Azure.Data.Tables.TableEntity>(partition, "x|" + Hash(parent));
            }

            await _table.GetEntityIfExistsAsync<Azure.Data.Tables.TableEntity>(partition, "o|" + Hash(message.From.Mailboxes.First().Address));
            var id = "msg_" + run;
            await _table.SubmitTransactionAsync(
            [
                new(Azure.Data.Tables.TableTransactionActionType.Add, new Azure.Data.Tables.TableEntity(partition, "i|" + run) { ["MessageId"] = id }),
                new(Azure.Data.Tables.TableTransactionActionType.Add, new Azure.Data.Tables.TableEntity(partition, "m|" + run) { ["Text"] = text, ["Html"] = html, ["Subject"] = message.Subject }),
                new(Azure.Data.Tables.TableTransactionActionType.Add, new Azure.Data.Tables.TableEntity(partition, "a|" + run) { ["Text"] = text, ["Html"] = html, ["Subject"] = message.Subject }),
            ]);
        }

        private static string Hash(string value) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(value)));
    }

    private static async Task FillAsync(MailServerProcess servers, string mailbox, string password, int count, bool threaded)
    {
        using var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await client.ConnectAsync("127.0.0.1", servers.ImapPort, SecureSocketOptions.None);
        await client.AuthenticateAsync(mailbox, password);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var text = string.Join(' ', Enumerable.Repeat("Olá, gostaria de saber sobre o meu pedido e a entrega.", 20));
        var threads = new Dictionary<int, List<string>>();
        for (var i = 0; i < count; i += 100)
        {
            var batch = Enumerable.Range(i, Math.Min(100, count - i)).Select(n =>
            {
                var m = new MimeMessage();
                m.From.Add(new MailboxAddress($"Cliente {n % 20}", $"cliente{n % 20}@{MailServerProcess.CustomerDomain}"));
                m.To.Add(MailboxAddress.Parse(mailbox));
                m.Subject = $"Pedido {n}";
                m.MessageId = $"bench-{n}-{Guid.NewGuid():N}@{MailServerProcess.CustomerDomain}";
                if (threaded)
                {
                    var thread = threads.TryGetValue(n % 20, out var t) ? t : threads[n % 20] = [];
                    if (thread.Count > 0)
                    {
                        m.InReplyTo = thread[^1];
                        // As mail clients keep them: the thread's first mail and the latest ones.
                        foreach (var id in thread.Take(1).Concat(thread.Skip(1).TakeLast(9)))
                        {
                            m.References.Add(id);
                        }

                        m.Subject = $"Re: Pedido {n % 20}";
                    }

                    thread.Add(m.MessageId);
                }
                m.Body = new BodyBuilder { TextBody = text, HtmlBody = $"<p>{text}</p>" }.ToMessageBody();
                return (IAppendRequest)new AppendRequest(m, MessageFlags.None);
            }).ToList();
            await client.Inbox.AppendAsync(batch);
        }

        await client.DisconnectAsync(true);
    }

    /// <param name="direct">Null: the fetch alone; else each mail is also parsed and stored as a direct implementation would.</param>
    private static async Task<int> PlainFetchAsync(MailServerProcess servers, string mailbox, string password, DirectIngest? direct)
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
            if (direct is not null)
            {
                await direct.StoreAsync(buffer);
            }
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
