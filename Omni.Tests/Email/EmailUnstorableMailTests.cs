using System.Net;
using MailKit;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// Mail whose message row Table Storage could not hold (a property over 64 KiB, an entity over 1 MiB): capped or
/// quarantined, never a poll that fails for ever on it. Default size limit, so such mail is not merely oversized.
/// </summary>
public sealed class EmailUnstorableMailTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<(TestTenant Tenant, TestMailbox Mailbox, string ChannelId)> ImapChannelAsync()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        return (tenant, mailbox, await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox)));
    }

    [Fact]
    public async Task MailTableStorageCannotHoldNeitherFailsThePollNorBlocksTheMailbox()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var customer = "eva@" + MailServerProcess.CustomerDomain;
        var huge = new MimeKit.MimeMessage();
        huge.From.Add(MimeKit.MailboxAddress.Parse(customer));
        huge.To.AddRange(Enumerable.Range(0, 2000).Select(i => new MimeKit.MailboxAddress(null, $"destinatario-{i:D4}@{MailServerProcess.CustomerDomain}")));
        huge.Subject = new string('s', 40_000);
        huge.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(MailServerProcess.CustomerDomain);
        huge.Body = new MimeKit.TextPart("plain") { Text = "Para muita gente." };
        await _servers.AppendRawAsync(mailbox, ToBytes(huge));
        // Past every cap: an In-Reply-To id alone larger than a Table Storage property.
        var unstorable = new MimeKit.MimeMessage();
        unstorable.From.Add(MimeKit.MailboxAddress.Parse(customer));
        unstorable.To.Add(MimeKit.MailboxAddress.Parse(mailbox.Address));
        unstorable.Subject = "Resposta impossível";
        unstorable.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(MailServerProcess.CustomerDomain);
        unstorable.InReplyTo = new string('r', 70_000) + "@" + MailServerProcess.CustomerDomain;
        unstorable.Body = new MimeKit.TextPart("plain") { Text = "Não cabe." };
        await _servers.AppendRawAsync(mailbox, ToBytes(unstorable));
        await _servers.SendAsync(customer, mailbox.Address, "Depois da lista enorme", "Esta deve entrar.");
        await _servers.WaitForInboxAsync(mailbox, 3);

        var first = await _app.PollAsync(tenant, channelId);
        var second = await _app.PollAsync(tenant, channelId);

        Assert.Equal((2, 1), (first.Ingested, first.Quarantined));
        Assert.Equal(new PollResult(0, 0, 0), second);
        var subjects = (await _app.AllMessagesAsync(tenant, channelId)).Select(m => m["subject"]!.GetValue<string>()).ToList();
        Assert.Contains("Depois da lista enorme", subjects);
        Assert.Contains(subjects, s => s.StartsWith("sss", StringComparison.Ordinal) && s.Length <= 1000);
        var listing = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/quarantine"), HttpStatusCode.OK);
        var item = Assert.Single(listing["items"]!.AsArray());
        Assert.Equal(MailIngestor.Unstorable, item!["reason"]!.GetValue<string>());
        Assert.All(await _servers.ReadInboxAsync(mailbox), m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));

        static byte[] ToBytes(MimeKit.MimeMessage message)
        {
            using var stream = new MemoryStream();
            message.WriteTo(stream);
            return stream.ToArray();
        }
    }
}
