using System.Globalization;
using System.Security.Cryptography;
using MailKit;
using MailKit.Net.Imap;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Channels;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Benchmarks;

/// <summary>
/// mail-memory: what one 25 MiB mail costs in managed memory while it is ingested, through an IMAP poll of real
/// Dovecot (fetch, parse, archive, store) and straight from a forward-only stream (Graph's <c>$value</c>, POP3), beside
/// the mail's own size: one copy of it in a byte array, read in the same run. And the resident set of this process
/// (the ingesting instance) while one poll ingests a burst of eight such mails, against issue 11's 400 MB.
/// </summary>
internal static class MailMemoryBenchmark
{
    private const int AttachmentBytes = 18 * 1024 * 1024;
    private const int BurstMails = 8;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        var servers = run.Own(await MailServerProcess.StartAsync());
        var mailbox = $"mem-{Guid.NewGuid():N}"[..16] + "@" + MailServerProcess.Domain;
        const string password = "bench-password";
        servers.AddUser(mailbox, password);

        var (app, channel) = await EmailBenchmarkHost.StartAsync(azurite, servers, mailbox, password);
        using var host = app;
        var poller = host.Services.GetRequiredService<IEnumerable<IMailboxPoller>>().Single(p => p.ChannelType == ChannelTypes.Email);
        var ingestor = host.Services.GetRequiredService<MailIngestor>();

        // Warm up both paths on a small mail, so JIT and first-use allocations are not counted.
        await AppendAsync(servers, mailbox, password, Mail(1024));
        await poller.PollAsync(channel);
        await ingestor.IngestAsync(channel, new MemoryStream(Mail(1024)), "bench:warm");

        var mail = Mail(AttachmentBytes);
        var copy = await MeasureAsync(() => Task.FromResult(mail.ToArray()));
        await AppendAsync(servers, mailbox, password, mail);
        var polled = await MeasureAsync(() => poller.PollAsync(channel));
        var fresh = Mail(AttachmentBytes);
        var streamed = await MeasureAsync(() => ingestor.IngestAsync(channel, new ForwardOnly(fresh), "bench:stream", fresh.Length));
        var mailSize = mail.Length;
        fresh = mail = [];
        var burstBytes = 0L;

        // The burst: eight 25 MiB mails waiting in the mailbox, one poll. Each is generated, appended and dropped, so
        // what this process holds before the poll is the app, not the test data.
        for (var i = 0; i < BurstMails; i++)
        {
            var one = Mail(AttachmentBytes);
            burstBytes += one.Length;
            await AppendAsync(servers, mailbox, password, one);
        }

        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var before = Resident.Current();
        var (burst, peakResident) = await Resident.PeakDuringAsync(() => poller.PollAsync(channel));
        if (burst.Ingested != BurstMails)
        {
            throw new InvalidOperationException($"The burst poll ingested {burst.Ingested} of {BurstMails} mails.");
        }

        await host.StopAsync();

        double MiB(long bytes) => bytes / 1024.0 / 1024.0;
        return new BenchmarkReport("mail-memory",
            "Managed memory of ingesting one 25 MiB mail (text, HTML and an 18 MiB attachment): the peak growth of the managed heap while it runs "
            + "and the bytes allocated, beside one copy of the mail in a byte array made in the same run.",
            [
                new BenchmarkRow("IMAP poll of the mail: peak managed heap growth", MiB(polled.Peak), "MiB", MiB(copy.Peak), "one copy of the mail"),
                new BenchmarkRow("IMAP poll of the mail: bytes allocated", MiB(polled.Allocated), "MiB", MiB(copy.Allocated), "one copy of the mail"),
                new BenchmarkRow("ingest from a forward-only stream: peak managed heap growth", MiB(streamed.Peak), "MiB", MiB(copy.Peak), "one copy of the mail"),
                new BenchmarkRow("ingest from a forward-only stream: bytes allocated", MiB(streamed.Allocated), "MiB", MiB(copy.Allocated), "one copy of the mail"),
                new BenchmarkRow($"burst of {BurstMails} such mails in one IMAP poll: peak resident set", peakResident / 1e6, "MB", 400, "issue 11's ceiling"),
                new BenchmarkRow($"burst of {BurstMails}: resident set before the poll", before / 1e6, "MB"),
                new BenchmarkRow($"burst of {BurstMails}: the mails' total size", burstBytes / 1e6, "MB"),
            ],
            new Dictionary<string, string>
            {
                ["mail size"] = MiB(mailSize).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
                ["resident set"] = "VmHWM of /proc/self/status after resetting it (clear_refs 5) before the poll, or the highest VmRSS sampled every 5 ms where that reset is refused; "
                    + "the whole benchmark process: the app's host, its storage clients and MailKit (Dovecot and Azurite are other processes)",
            });
    }

    /// <summary>Bytes allocated by the whole process while <paramref name="work"/> runs, and the highest the heap grew above where it started.</summary>
    private static async Task<(long Allocated, long Peak)> MeasureAsync<T>(Func<Task<T>> work)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var start = GC.GetTotalMemory(forceFullCollection: true);
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        long peak = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false) - start);
                await Task.Delay(1, CancellationToken.None);
            }
        }, CancellationToken.None);
        var result = await work();
        peak = Math.Max(peak, GC.GetTotalMemory(false) - start);
        await stop.CancelAsync();
        await sampler;
        GC.KeepAlive(result);
        return (GC.GetTotalAllocatedBytes(precise: true) - allocated, peak);
    }

    private static byte[] Mail(int attachmentBytes)
    {
        var body = new BodyBuilder { TextBody = "Segue o relatório em anexo.", HtmlBody = "<p>Segue o <b>relatório</b> em anexo.</p>" };
        body.Attachments.Add("relatorio.bin", RandomNumberGenerator.GetBytes(attachmentBytes), new ContentType("application", "octet-stream"));
        var message = new MimeMessage { Subject = "Relatório", Body = body.ToMessageBody() };
        message.From.Add(MailboxAddress.Parse("cliente@" + MailServerProcess.CustomerDomain));
        message.To.Add(MailboxAddress.Parse("suporte@" + MailServerProcess.Domain));
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(MailServerProcess.CustomerDomain);
        using var buffer = new MemoryStream();
        message.WriteTo(FormatOptions.Default, buffer);
        return buffer.ToArray();
    }

    private static async Task AppendAsync(MailServerProcess servers, string mailbox, string password, byte[] raw)
    {
        using var imap = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await imap.ConnectAsync("127.0.0.1", servers.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await imap.AuthenticateAsync(mailbox, password);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        await imap.Inbox.AppendAsync(MimeMessage.Load(new MemoryStream(raw)));
        await imap.DisconnectAsync(true);
    }

    /// <summary>The resident set of this process, from /proc/self/status (Linux).</summary>
    private static class Resident
    {
        public static long Current() => Read("VmRSS:");

        public static async Task<(T Result, long Peak)> PeakDuringAsync<T>(Func<Task<T>> work)
        {
            // Resetting the high-water mark makes VmHWM this work's peak alone; sampling covers kernels that refuse it.
            var reset = true;
            try
            {
                await File.WriteAllTextAsync("/proc/self/clear_refs", "5");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                reset = false;
            }

            long sampled = Current();
            using var stop = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    sampled = Math.Max(sampled, Current());
                    await Task.Delay(5, CancellationToken.None);
                }
            }, CancellationToken.None);
            var result = await work();
            await stop.CancelAsync();
            await sampler;
            sampled = Math.Max(sampled, Current());
            return (result, reset ? Math.Max(sampled, Read("VmHWM:")) : sampled);
        }

        private static long Read(string field)
        {
            var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
            return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
    }

    /// <summary>A network stream's shape: no length, no seeking.</summary>
    private sealed class ForwardOnly(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
