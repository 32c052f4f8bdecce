using MailKit;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.Email;

/// <summary>
/// What an ingested mail costs in storage requests (tenants pay per request), counted on the app's own clients while
/// one poll ingests a burst from real Dovecot. Counts are deterministic; a request added anywhere on the path fails
/// these. Times are never asserted.
/// </summary>
public sealed class MailIngestRequestCountTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    internal const int Mails = 20;
    internal const int Senders = 4;
    private MailServerProcess _servers = null!;
    private StorageTransactionCounter _counter = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        var settings = EmailArrange.Settings(_servers);
        foreach (var (k, v) in IsolatedQueues.Settings())
        {
            settings[k] = v;
        }

        _app = new OmniApp(azurite, settings, services => _counter = StorageTransactionCounter.AttachTo(services));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task ABurstOfTwentyMailsFromFourSendersCostsOnePointFiveStorageRequestsAMail()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        await AppendAsync(mailbox, Enumerable.Range(0, Mails).Select(n => Mail(mailbox, n % Senders, $"Pedido {n}", $"plain-{n}-{Guid.NewGuid():N}")));

        _counter.Reset();
        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(Mails, result.Ingested);
        // The channel, the mailbox state, the lease; a raw-MIME blob a mail; one routing read a sender; the rows in two
        // transactions (20 mails' rows and 4 conversations' are over the 100 actions of one); the lease released with
        // the cursor.
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, Describe());
        Assert.True(_counter.Total <= 1.5 * Mails, Describe());
        Assert.Equal(Senders, (await _app.ConversationsAsync(tenant, channelId)).Count);
    }

    [Fact]
    public async Task RepliesThreadedByInReplyToAndReferencesCostNoMoreThanOneReadEachOverPlainMail()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        // Each sender's first mail opens a conversation; the replies come in a later poll.
        var (firsts, replies) = Thread(n => Mail(mailbox, n % Senders, $"Pedido {n % Senders}", $"{(n < Senders ? "first" : "reply")}-{n}-{Guid.NewGuid():N}"));
        await AppendAsync(mailbox, firsts);
        Assert.Equal(Senders, (await _app.PollAsync(tenant, channelId)).Ingested);
        await AppendAsync(mailbox, replies);

        _counter.Reset();
        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(Mails, result.Ingested);
        // As plain mail, but each sender's first reply reads the key of the mail it answers (a hit: the contact's open
        // conversation is not read); the replies after it find their parents among the rows this poll wrote.
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, Describe());
        Assert.True(_counter.Total <= 1.5 * Mails + Mails, Describe());
        await AssertThreadedAsync(_app, tenant, channelId);
    }

    [Fact]
    public async Task APop3PollOfTwentyMailsFromFourSendersCostsOnePointFiveStorageRequestsAMail()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        // The first poll takes the (empty) mailbox's history; mail arriving after it is new.
        Assert.Equal(0, (await _app.PollAsync(tenant, channelId)).Ingested);
        await AppendAsync(mailbox, Enumerable.Range(0, Mails).Select(n => Mail(mailbox, n % Senders, $"Pedido {n}", $"pop-{n}-{Guid.NewGuid():N}")));

        _counter.Reset();
        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(Mails, result.Ingested);
        // As IMAP: the channel, the mailbox state, the lease; a raw-MIME blob a mail; one routing read a sender; two
        // transactions of rows; the taken UIDLs written with the release, in one transaction. The UIDL rows are not
        // read: the server still lists what the last poll took, first, so only what follows is new.
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, Describe());
        Assert.True(_counter.Total <= 1.5 * Mails, Describe());
        // The rows' two transactions and the one that takes the UIDLs with the release; the lease is the one PUT.
        Assert.Equal((3, 1), (_counter.Snapshot().GetValueOrDefault("table POST $batch (entity-group transaction)"), _counter.Snapshot().GetValueOrDefault("table PUT MailboxState point")));
        Assert.Equal(Senders, (await _app.ConversationsAsync(tenant, channelId)).Count);
        Assert.Equal(new Omni.Email.PollResult(0, 0, 0), await _app.PollAsync(tenant, channelId));
    }

    [Fact]
    public async Task Pop3RepliesThreadedByInReplyToAndReferencesCostNoMoreThanPlainMail()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        Assert.Equal(0, (await _app.PollAsync(tenant, channelId)).Ingested);
        var (firsts, replies) = Thread(n => Mail(mailbox, n % Senders, $"Pedido {n % Senders}", $"pop-{n}-{Guid.NewGuid():N}"));
        await AppendAsync(mailbox, firsts);
        Assert.Equal(Senders, (await _app.PollAsync(tenant, channelId)).Ingested);
        await AppendAsync(mailbox, replies);

        _counter.Reset();
        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(Mails, result.Ingested);
        // As plain POP3 mail: each sender's first reply reads its parent's key instead of the contact's row.
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, Describe());
        await AssertThreadedAsync(_app, tenant, channelId);
    }

    [Fact]
    public async Task ACopyOfAMailInTheSameCommittedPop3BatchStaysOneMessageAndTheMailAfterItIsStillTaken()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        Assert.Equal(0, (await _app.PollAsync(tenant, channelId)).Ingested);
        var id = $"dup-{Guid.NewGuid():N}";
        // The second copy (its own UIDL, the same Message-ID, as a re-delivered mail) ends the batch's transaction on
        // its idempotency row; it and the mail after it are then stored one by one.
        await AppendAsync(mailbox, [Mail(mailbox, 0, "Primeira", id), Mail(mailbox, 1, "Outra", $"o-{Guid.NewGuid():N}"), Mail(mailbox, 0, "Primeira", id), Mail(mailbox, 2, "Depois", $"d-{Guid.NewGuid():N}")]);

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal((3, 1, 0), (result.Ingested, result.Duplicates, result.Quarantined));
        Assert.Equal(["Depois", "Outra", "Primeira"], (await _app.AllMessagesAsync(tenant, channelId)).Select(m => m["subject"]!.GetValue<string>()).Order());
        Assert.Equal(new Omni.Email.PollResult(0, 0, 0), await _app.PollAsync(tenant, channelId));
    }

    [Fact]
    public async Task APop3PollOfMoreThanOneBatchTakesEveryMailOnceAndLeavesAnIdleMailbox()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        Assert.Equal(0, (await _app.PollAsync(tenant, channelId)).Ingested);
        // 25 a batch: the first batch's UIDLs are written with the lease's renewal, the rest with the release.
        await AppendAsync(mailbox, Enumerable.Range(0, 30).Select(n => Mail(mailbox, n % Senders, $"Lote {n}", $"batch-{n}-{Guid.NewGuid():N}")));

        Assert.Equal(30, (await _app.PollAsync(tenant, channelId)).Ingested);

        _counter.Reset();
        Assert.Equal(new Omni.Email.PollResult(0, 0, 0), await _app.PollAsync(tenant, channelId));
        // Idle: the channel (read by the poll's caller) and the state row, nothing written.
        Assert.True(_counter.Total == 2, Describe());
        Assert.Equal(30, (await _app.AllMessagesAsync(tenant, channelId)).Count);
    }

    [Fact]
    public async Task AfterMailIsDeletedFromThePop3MailboxElsewhereTheTakenRowsAreReadAndOnlyNewMailIsTaken()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        Assert.Equal(0, (await _app.PollAsync(tenant, channelId)).Ingested);
        await AppendAsync(mailbox, Enumerable.Range(0, 3).Select(n => Mail(mailbox, n, $"Antes {n}", $"before-{n}-{Guid.NewGuid():N}")));
        Assert.Equal(3, (await _app.PollAsync(tenant, channelId)).Ingested);
        using (var imap = await _servers.ImapAsync(mailbox))
        {
            // Another client deletes the first: the server's listing no longer starts with what the last poll took.
            await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
            var first = (await imap.Inbox.SearchAsync(MailKit.Search.SearchQuery.All)).Min();
            await imap.Inbox.AddFlagsAsync(first, MessageFlags.Deleted, silent: true);
            await imap.Inbox.ExpungeAsync();
            await imap.DisconnectAsync(true);
        }

        await AppendAsync(mailbox, [Mail(mailbox, 3, "Depois", $"after-{Guid.NewGuid():N}")]);

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal((1, 0), (result.Ingested, result.Duplicates));
        Assert.Equal(new Omni.Email.PollResult(0, 0, 0), await _app.PollAsync(tenant, channelId));
        Assert.Equal(4, (await _app.AllMessagesAsync(tenant, channelId)).Count);
    }

    private string Describe() => Describe(_counter);

    internal static string Describe(StorageTransactionCounter counter) => string.Join(", ", counter.Snapshot().Select(c => $"{c.Key}: {c.Value}"));

    /// <summary>
    /// Each sender's first mail, and the replies that follow in a later poll, each to the mail before it (In-Reply-To)
    /// with the whole thread in References, as mail clients write them.
    /// </summary>
    internal static (List<MimeMessage> Firsts, List<MimeMessage> Replies) Thread(Func<int, MimeMessage> mail)
    {
        var firsts = Enumerable.Range(0, Senders).Select(s => mail(s)).ToList();
        var threads = firsts.Select(f => new List<string> { f.MessageId! }).ToList();
        var replies = new List<MimeMessage>();
        for (var n = 0; n < Mails; n++)
        {
            var thread = threads[n % Senders];
            var reply = mail(Senders + n);
            reply.Subject = "Re: " + reply.Subject;
            reply.InReplyTo = thread[^1];
            foreach (var id in thread)
            {
                reply.References.Add(id);
            }

            thread.Add(reply.MessageId!);
            replies.Add(reply);
        }

        return (firsts, replies);
    }

    /// <summary>Every reply in its thread's conversation, none opened a new one.</summary>
    internal static async Task AssertThreadedAsync(OmniApp app, TestTenant tenant, string channelId)
    {
        var conversations = await app.ConversationsAsync(tenant, channelId);
        Assert.Equal(Senders, conversations.Count);
        foreach (var conversation in conversations)
        {
            Assert.Equal(1 + Mails / Senders, (await app.MessagesAsync(tenant, conversation["id"]!.GetValue<string>())).Count);
        }
    }

    private static MimeMessage Mail(TestMailbox mailbox, int sender, string subject, string id) =>
        Mail($"cliente{sender}-{mailbox.Address.Split('@')[0]}@{MailServerProcess.CustomerDomain}", sender, mailbox.Address, subject, id);

    internal static MimeMessage Mail(string from, int sender, string to, string subject, string id)
    {
        var m = new MimeMessage();
        m.From.Add(new MailboxAddress($"Cliente {sender}", from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.MessageId = $"{id}@{MailServerProcess.CustomerDomain}";
        m.Body = new TextPart("plain") { Text = "Olá, gostaria de saber sobre o meu pedido." };
        return m;
    }

    private async Task AppendAsync(TestMailbox mailbox, IEnumerable<MimeMessage> messages)
    {
        using var imap = await _servers.ImapAsync(mailbox);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        await imap.Inbox.AppendAsync(messages.Select(m => (IAppendRequest)new AppendRequest(m, MessageFlags.None)).ToList());
        await imap.DisconnectAsync(true);
    }
}

/// <summary>
/// The same for a Microsoft 365 mailbox over Graph (the local HTTPS fake): what one poll of a burst costs in storage
/// requests, counted on the app's own clients. Graph requests are not storage requests and are not counted here.
/// </summary>
public sealed class GraphIngestRequestCountTests : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private const int Mails = MailIngestRequestCountTests.Mails;
    private const int Senders = MailIngestRequestCountTests.Senders;
    private readonly MicrosoftCloudFixture _microsoft;
    private readonly OmniApp _app;
    private StorageTransactionCounter _counter = null!;

    public GraphIngestRequestCountTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft)
    {
        _microsoft = microsoft;
        _app = microsoft.CreateApp(azurite, services => _counter = StorageTransactionCounter.AttachTo(services));
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AGraphPollOfTwentyMailsFromFourSendersCostsOnePointFiveStorageRequestsAMail()
    {
        var channel = await _app.GraphChannelAsync(_microsoft.Cloud);
        var delivered = Enumerable.Range(0, Mails).Select(n => channel.Mailbox.Deliver(Mail(channel, n % Senders, $"Pedido {n}", $"graph-{n}-{Guid.NewGuid():N}"))).ToList();

        _counter.Reset();
        var result = await PollAsync(channel);

        Assert.Equal(Mails, result.Ingested);
        // The channel, the mailbox state, the lease; a raw-MIME blob a mail; one routing read a sender; two
        // transactions of rows; the delta link saved by the lease release (one page: no page's save before it).
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, MailIngestRequestCountTests.Describe(_counter));
        Assert.True(_counter.Total <= 1.5 * Mails, MailIngestRequestCountTests.Describe(_counter));
        Assert.All(delivered, m => Assert.True(m.IsRead));
        Assert.Equal(Senders, (await _app.ConversationsAsync(channel.Tenant, channel.ChannelId)).Count);
    }

    [Fact]
    public async Task GraphRepliesThreadedByInReplyToAndReferencesCostNoMoreThanPlainMail()
    {
        var channel = await _app.GraphChannelAsync(_microsoft.Cloud);
        var (firsts, replies) = MailIngestRequestCountTests.Thread(n => Mail(channel, n % Senders, $"Pedido {n % Senders}", $"graph-{n}-{Guid.NewGuid():N}"));
        foreach (var first in firsts)
        {
            channel.Mailbox.Deliver(first);
        }

        Assert.Equal(Senders, (await PollAsync(channel)).Ingested);
        foreach (var reply in replies)
        {
            channel.Mailbox.Deliver(reply);
        }

        _counter.Reset();
        var result = await PollAsync(channel);

        Assert.Equal(Mails, result.Ingested);
        // As plain mail: each sender's first reply reads its parent's key instead of the contact's row.
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, MailIngestRequestCountTests.Describe(_counter));
        await MailIngestRequestCountTests.AssertThreadedAsync(_app, channel.Tenant, channel.ChannelId);
    }

    private static MimeMessage Mail(GraphMailboxChannel channel, int sender, string subject, string id) =>
        MailIngestRequestCountTests.Mail($"cliente{sender}-{channel.Mailbox.Id[..8]}@example.com", sender, channel.Mailbox.Address, subject, id);

    private async Task<Omni.Email.PollResult> PollAsync(GraphMailboxChannel channel)
    {
        var stored = await _app.Services.GetRequiredService<Omni.Channels.IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId);
        var poller = _app.Services.GetServices<Omni.Email.IMailboxPoller>().Single(p => p.ChannelType == "microsoft-email");
        return await poller.PollAsync(stored!);
    }
}
