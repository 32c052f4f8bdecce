using System.Net.Security;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Smtp;
using MailKit.Search;
using MimeKit;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>A mailbox on the test servers, with its password.</summary>
public sealed record TestMailbox(string Address, string Password);

/// <summary>What customers and other mail clients do in the tests, over real SMTP (through Postfix) and IMAP.</summary>
public static class MailKitTestClient
{
    private static readonly RemoteCertificateValidationCallback TrustTestCertificate = (_, _, _, _) => true;

    public static TestMailbox NewMailbox(this MailServerProcess servers, string domain = MailServerProcess.Domain, string prefix = "box")
    {
        var mailbox = new TestMailbox($"{prefix}-{Guid.NewGuid():N}"[..20] + "@" + domain, "pw-" + Guid.NewGuid().ToString("N")[..16]);
        servers.AddUser(mailbox.Address, mailbox.Password);
        return mailbox;
    }

    /// <summary>Sends through Postfix (no login needed from loopback), which delivers over LMTP into Dovecot.</summary>
    public static async Task<MimeMessage> SendAsync(this MailServerProcess servers, string from, string to, string subject, string text,
        string? inReplyTo = null, Action<MimeMessage>? edit = null, string? messageId = null)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.MessageId = messageId ?? MimeKit.Utils.MimeUtils.GenerateMessageId(MailServerProcess.CustomerDomain);
        if (inReplyTo is not null)
        {
            message.InReplyTo = inReplyTo;
            message.References.Add(inReplyTo);
        }

        message.Body = new TextPart("plain") { Text = text };
        edit?.Invoke(message);
        using var smtp = new SmtpClient();
        await smtp.ConnectAsync("127.0.0.1", servers.SmtpPort, MailKit.Security.SecureSocketOptions.None);
        await smtp.SendAsync(message);
        await smtp.DisconnectAsync(true);
        return message;
    }

    /// <summary>Puts raw bytes straight into a mailbox's INBOX (IMAP APPEND), for mail no MTA would pass.</summary>
    public static async Task AppendRawAsync(this MailServerProcess servers, TestMailbox mailbox, byte[] raw, bool seen = false)
    {
        using var imap = await servers.ImapAsync(mailbox);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        using var stream = new MemoryStream(raw);
        var parsed = await MimeMessage.LoadAsync(stream);
        await imap.Inbox.AppendAsync(parsed, seen ? MessageFlags.Seen : MessageFlags.None);
        await imap.DisconnectAsync(true);
    }

    public static async Task<ImapClient> ImapAsync(this MailServerProcess servers, TestMailbox mailbox)
    {
        var imap = new ImapClient { ServerCertificateValidationCallback = TrustTestCertificate };
        await imap.ConnectAsync("127.0.0.1", servers.ImapPort, MailKit.Security.SecureSocketOptions.None);
        await imap.AuthenticateAsync(mailbox.Address, mailbox.Password);
        return imap;
    }

    /// <summary>Every message in the INBOX with its flags, read as another client would (PEEK: it changes nothing).</summary>
    public static async Task<List<(MimeMessage Message, MessageFlags Flags, IReadOnlySet<string> Keywords)>> ReadInboxAsync(this MailServerProcess servers, TestMailbox mailbox)
    {
        using var imap = await servers.ImapAsync(mailbox);
        await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
        var result = new List<(MimeMessage, MessageFlags, IReadOnlySet<string>)>();
        if (imap.Inbox.Count > 0)
        {
            foreach (var summary in await imap.Inbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Flags))
            {
                MimeMessage message;
                try
                {
                    message = await imap.Inbox.GetMessageAsync(summary.UniqueId);
                }
                catch (FormatException)
                {
                    // Mail that is not MIME at all (the quarantine tests put some there).
                    message = new MimeMessage();
                }

                result.Add((message, summary.Flags ?? MessageFlags.None, summary.Keywords.ToHashSet()));
            }
        }

        await imap.DisconnectAsync(true);
        return result;
    }

    /// <summary>Waits until the INBOX holds <paramref name="count"/> messages (Postfix delivers within a second or so).</summary>
    public static async Task WaitForInboxAsync(this MailServerProcess servers, TestMailbox mailbox, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            using var imap = await servers.ImapAsync(mailbox);
            var status = await imap.GetFolderAsync("INBOX");
            await status.StatusAsync(StatusItems.Count);
            await imap.DisconnectAsync(true);
            if (status.Count >= count)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{mailbox.Address} holds {status.Count} of {count} messages after the deadline.\n{servers.ReadLogs()}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Marks every message read, as a person in another mail client would.</summary>
    public static async Task MarkAllSeenAsync(this MailServerProcess servers, TestMailbox mailbox)
    {
        using var imap = await servers.ImapAsync(mailbox);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var all = await imap.Inbox.SearchAsync(SearchQuery.All);
        await imap.Inbox.AddFlagsAsync(all, MessageFlags.Seen, silent: true);
        await imap.DisconnectAsync(true);
    }
}

/// <summary>Raw IMAP, for bytes MailKit would not write (mail that is not valid MIME).</summary>
public static class RawImap
{
    public static async Task AppendAsync(MailServerProcess servers, TestMailbox mailbox, byte[] raw)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, servers.ImapPort);
        using var stream = tcp.GetStream();
        using var reader = new StreamReader(stream, System.Text.Encoding.ASCII);
        async Task<string> UntilAsync(string tag)
        {
            string? line;
            while ((line = await reader.ReadLineAsync()) is not null)
            {
                if (line.StartsWith(tag, StringComparison.Ordinal))
                {
                    return line;
                }
            }

            throw new IOException("IMAP connection closed.");
        }

        async Task WriteAsync(byte[] bytes) => await stream.WriteAsync(bytes);
        await UntilAsync("* OK");
        await WriteAsync(System.Text.Encoding.ASCII.GetBytes($"a LOGIN \"{mailbox.Address}\" \"{mailbox.Password}\"\r\n"));
        Assert.StartsWith("a OK", await UntilAsync("a "), StringComparison.Ordinal);
        await WriteAsync(System.Text.Encoding.ASCII.GetBytes($"b APPEND INBOX {{{raw.Length}+}}\r\n"));
        await WriteAsync(raw);
        await WriteAsync("\r\n"u8.ToArray());
        Assert.StartsWith("b OK", await UntilAsync("b "), StringComparison.Ordinal);
        await WriteAsync("c LOGOUT\r\n"u8.ToArray());
    }
}
