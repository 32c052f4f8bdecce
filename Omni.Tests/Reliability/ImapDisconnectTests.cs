using System.Diagnostics;
using MailKit;
using MimeKit;
using Omni.Tests.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Reliability;

/// <summary>
/// Scenario 6: the IMAP server drops the connection in the middle of a fetch (a <see cref="TcpFaultProxy"/> between the
/// app and Dovecot resets the first connections after a growing number of bytes). No mail is lost or stored twice,
/// every message ends \Seen, and the mailbox keeps moving: each poll gets further than the one before.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class ImapDisconnectTests(MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private AzuriteProcess _storage = null!;
    private TcpFaultProxy _imap = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _storage = await AzuriteProcess.StartAsync();
        _imap = TcpFaultProxy.Start(_servers.ImapsPort);
    }

    public async ValueTask DisposeAsync()
    {
        await _imap.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task AConnectionCutMidFetchLosesAndDoublesNoMail()
    {
        var count = ReliabilityRun.Size(40);
        const int CutConnections = 3;
        var agent = _servers.NewMailbox();
        var ids = await FillAsync(agent, count);
        // The first connections die after the TLS handshake and login, part-way into a fetch, each a little later.
        _imap.CutAfter = n => n <= CutConnections ? 12_000 + (n * 20_000) : null;

        await using var app = await FaultApp.StartAsync(_storage.ConnectionString, EmailFaults.Environment(_servers));
        var tenant = await app.TenantAsync();
        var channelId = await app.ChannelAsync(tenant, "email", EmailFaults.Settings(agent, _imap.Port, _servers.SmtpsPort));

        var clock = Stopwatch.StartNew();
        var progress = new List<string>();
        TimeSpan? lastCut = null, done = null;
        List<string> stored = [];
        while (clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            stored = (await app.ChannelMessagesAsync(tenant, channelId)).Where(m => m["direction"]!.GetValue<string>() == "inbound").Select(m => m["externalId"]!.GetValue<string>()).ToList();
            if (_imap.Cuts == CutConnections && lastCut is null)
            {
                lastCut = clock.Elapsed;
            }

            if (progress.Count == 0 || !progress[^1].EndsWith($" {stored.Count}", StringComparison.Ordinal))
            {
                progress.Add($"{clock.Elapsed.TotalSeconds:0}s {stored.Count}");
            }

            if (stored.Distinct().Count() >= count)
            {
                done = clock.Elapsed;
                break;
            }

            await Task.Delay(500);
        }

        // A stray second copy gets a poll's time to show up before counting.
        await Task.Delay(3000);
        stored = (await app.ChannelMessagesAsync(tenant, channelId)).Where(m => m["direction"]!.GetValue<string>() == "inbound").Select(m => m["externalId"]!.GetValue<string>()).ToList();
        var inbox = await _servers.ReadInboxAsync(agent);
        var unseen = inbox.Count(m => !m.Flags.HasFlag(MessageFlags.Seen));
        var figures = new Figures("6. IMAP connection cut mid-fetch", count, count, ids.Count(id => !stored.Contains(id)), stored.Count - stored.Distinct().Count(), unseen, 0,
            done is { } d && lastCut is { } c ? (d - c).TotalSeconds : null,
            $"{_imap.Cuts} of {_imap.Connections} connections cut; stored over time (s, messages): {string.Join(" → ", progress)}; {unseen} left unseen; recovery = last cut to every message stored");
        ReliabilityRun.Report(figures);

        Assert.Equal(CutConnections, _imap.Cuts);
        ReliabilityRun.AssertCorrect(figures);
    }

    // One APPEND of the whole batch: the mailbox is full before the app first looks.
    private async Task<List<string>> FillAsync(TestMailbox mailbox, int count)
    {
        var filler = string.Concat(Enumerable.Repeat("Linha de texto para encher a mensagem. ", 80));
        var messages = Enumerable.Range(0, count).Select(i =>
        {
            var message = new MimeMessage { Subject = $"Pedido {i}", MessageId = $"cut-{i}-{Guid.NewGuid():N}@{MailServerProcess.CustomerDomain}" };
            message.From.Add(new MailboxAddress("Cliente", $"cliente{i % 5}@{MailServerProcess.CustomerDomain}"));
            message.To.Add(MailboxAddress.Parse(mailbox.Address));
            message.Body = new TextPart("plain") { Text = $"Mensagem {i}. {filler}" };
            return message;
        }).ToList();
        using var imap = await _servers.ImapAsync(mailbox);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        await imap.Inbox.AppendAsync(messages.Select(m => (IAppendRequest)new AppendRequest(m, MessageFlags.None)).ToList());
        await imap.DisconnectAsync(true);
        return messages.Select(m => m.MessageId!).ToList();
    }
}
