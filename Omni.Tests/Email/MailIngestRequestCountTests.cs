using MailKit;
using MimeKit;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// What an ingested mail costs in storage requests (tenants pay per request), counted on the app's own clients while
/// one poll ingests a burst from real Dovecot. Counts are deterministic; a request added anywhere on the path fails
/// these. Times are never asserted.
/// </summary>
public sealed class MailIngestRequestCountTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private const int Mails = 20;
    private const int Senders = 4;
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
        // Each sender's first mail opens a conversation; the replies come in a later poll, each to the mail before it
        // (In-Reply-To) with the whole thread in References, as mail clients write them.
        var firsts = Enumerable.Range(0, Senders).Select(s => Mail(mailbox, s, $"Pedido {s}", $"first-{s}-{Guid.NewGuid():N}")).ToList();
        await AppendAsync(mailbox, firsts);
        Assert.Equal(Senders, (await _app.PollAsync(tenant, channelId)).Ingested);
        var threads = firsts.Select(f => new List<string> { f.MessageId! }).ToList();
        var replies = new List<MimeMessage>();
        for (var n = 0; n < Mails; n++)
        {
            var thread = threads[n % Senders];
            var reply = Mail(mailbox, n % Senders, $"Re: Pedido {n % Senders}", $"reply-{n}-{Guid.NewGuid():N}");
            reply.InReplyTo = thread[^1];
            foreach (var id in thread)
            {
                reply.References.Add(id);
            }

            thread.Add(reply.MessageId!);
            replies.Add(reply);
        }

        await AppendAsync(mailbox, replies);

        _counter.Reset();
        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(Mails, result.Ingested);
        // As plain mail, but each sender's first reply reads the key of the mail it answers (a hit: the contact's open
        // conversation is not read); the replies after it find their parents among the rows this poll wrote.
        const int expected = 1 + 1 + 1 + Mails + Senders + 2 + 1;
        Assert.True(_counter.Total == expected, Describe());
        Assert.True(_counter.Total <= 1.5 * Mails + Mails, Describe());
        var conversations = await _app.ConversationsAsync(tenant, channelId);
        Assert.Equal(Senders, conversations.Count);
        foreach (var conversation in conversations)
        {
            // Every reply in its thread's conversation, none opened a new one.
            Assert.Equal(1 + Mails / Senders, (await _app.MessagesAsync(tenant, conversation["id"]!.GetValue<string>())).Count);
        }
    }

    private string Describe() => string.Join(", ", _counter.Snapshot().Select(c => $"{c.Key}: {c.Value}"));

    private static MimeMessage Mail(TestMailbox mailbox, int sender, string subject, string id)
    {
        var m = new MimeMessage();
        m.From.Add(new MailboxAddress($"Cliente {sender}", $"cliente{sender}-{mailbox.Address.Split('@')[0]}@{MailServerProcess.CustomerDomain}"));
        m.To.Add(MailboxAddress.Parse(mailbox.Address));
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
