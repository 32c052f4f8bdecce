using System.Net;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using MailKit;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Email;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.Email;

/// <summary>
/// Mail that loses, blocks or doubles mail if handled naively, through real Dovecot: a message that fails every
/// poll, hostile HTML, a reused Message-ID, a channel re-pointed to another mailbox, a POP3 mailbox's history.
/// </summary>
public sealed class EmailMailboxFaultTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    private SwitchableConversationStore Store => (SwitchableConversationStore)_app.Services.GetRequiredService<IConversationStore>();

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers), SwitchableConversationStore.Install);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AnImapMessageThatFailsEveryPollIsQuarantinedAfterThreeAndNeverStopsTheMailBehindIt()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        Store.Poisoned = m => m.ChannelId == channelId && m.Subject == "Veneno";
        var customer = "rui@" + MailServerProcess.CustomerDomain;
        await _servers.SendAsync(customer, mailbox.Address, "Veneno", "Nunca se guarda.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _servers.SendAsync(customer, mailbox.Address, "Depois do veneno", "Esta entra.");
        await _servers.WaitForInboxAsync(mailbox, 2);

        var first = await _app.PollAsync(tenant, channelId);
        await _servers.SendAsync(customer, mailbox.Address, "Entre as tentativas", "Esta também.");
        await _servers.WaitForInboxAsync(mailbox, 3);
        var second = await _app.PollAsync(tenant, channelId);
        var third = await _app.PollAsync(tenant, channelId);
        var fourth = await _app.PollAsync(tenant, channelId);

        Assert.Equal((1, 0), (first.Ingested, first.Quarantined));
        Assert.Equal((1, 0), (second.Ingested, second.Quarantined));
        Assert.Equal((0, 1), (third.Ingested, third.Quarantined));
        Assert.Equal(new PollResult(0, 0, 0), fourth);
        Assert.Equal(["Depois do veneno", "Entre as tentativas"], (await _app.AllMessagesAsync(tenant, channelId)).Select(m => m["subject"]!.GetValue<string>()).Order());
        var inbox = await _servers.ReadInboxAsync(mailbox);
        Assert.All(inbox, m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));
        Assert.Contains(ImapMailboxPoller.QuarantinedKeyword, inbox.Single(m => m.Message.Subject == "Veneno").Keywords);
        var item = Assert.Single(await QuarantineAsync(tenant, channelId));
        Assert.Equal(MailFaults.Unreadable, item["reason"]!.GetValue<string>());
        var providerId = item["providerId"]!.GetValue<string>();
        Assert.StartsWith("imap:", providerId, StringComparison.Ordinal);
        var warnings = _app.Logs.Lines.Where(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains(channelId, StringComparison.Ordinal) && l.Contains(providerId, StringComparison.Ordinal)).ToList();
        // Three failures, then the quarantine: each names the channel and the message, never its body.
        Assert.Equal(4, warnings.Count);
        Assert.DoesNotContain(warnings, l => l.Contains("Nunca se guarda", StringComparison.Ordinal));
    }

    [Fact]
    public async Task APop3MessageThatFailsEveryPollIsQuarantinedAfterThreeAndNeverStopsTheMailBehindIt()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        Store.Poisoned = m => m.ChannelId == channelId && m.Subject == "Veneno";
        await _app.PollAsync(tenant, channelId);
        var customer = "rui@" + MailServerProcess.CustomerDomain;
        await _servers.SendAsync(customer, mailbox.Address, "Veneno", "Nunca se guarda.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _servers.SendAsync(customer, mailbox.Address, "Depois do veneno", "Esta entra.");
        await _servers.WaitForInboxAsync(mailbox, 2);

        var results = new List<PollResult>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await _app.PollAsync(tenant, channelId));
        }

        Assert.Equal([(1, 0), (0, 0), (0, 1), (0, 0)], results.Select(r => (r.Ingested, r.Quarantined)));
        Assert.Equal("Depois do veneno", Assert.Single(await _app.AllMessagesAsync(tenant, channelId))["subject"]!.GetValue<string>());
        Assert.Equal(MailFaults.Unreadable, Assert.Single(await QuarantineAsync(tenant, channelId))["reason"]!.GetValue<string>());
        Assert.Equal(2, (await _servers.ReadInboxAsync(mailbox)).Count);
    }

    [Fact]
    public async Task AHugeDeeplyNestedHtmlOnlyMailIsStoredWithItsTextCutAndMarked()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        var html = "<p>Olá, segue.</p>" + string.Concat(Enumerable.Repeat("<div><font>", 60_000)) + "fundo";
        await _servers.SendAsync("html@" + MailServerProcess.CustomerDomain, mailbox.Address, "Só HTML", "", edit: m => m.Body = new MimeKit.TextPart("html") { Text = html });
        await _servers.WaitForInboxAsync(mailbox, 1);

        Assert.Equal(1, (await _app.PollAsync(tenant, channelId)).Ingested);

        var text = Assert.Single(await _app.AllMessagesAsync(tenant, channelId))["text"]!.GetValue<string>();
        Assert.StartsWith("Olá, segue.", text, StringComparison.Ordinal);
        Assert.EndsWith(MailText.TruncatedMark, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherBodyUnderAStoredMessageIdIsQuarantinedAndTheArchivedOriginalIsKept()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        var id = MimeKit.Utils.MimeUtils.GenerateMessageId(MailServerProcess.CustomerDomain);
        var customer = "bia@" + MailServerProcess.CustomerDomain;
        await _servers.SendAsync(customer, mailbox.Address, "Pedido", "O original.", messageId: id);
        await _servers.WaitForInboxAsync(mailbox, 1);
        Assert.Equal(1, (await _app.PollAsync(tenant, channelId)).Ingested);
        await _servers.SendAsync(customer, mailbox.Address, "Pedido", "Outro corpo, mesmo Message-ID.", messageId: id);
        await _servers.SendAsync(customer, mailbox.Address, "Pedido", "O original.", messageId: id);
        await _servers.WaitForInboxAsync(mailbox, 3);

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal((0, 1, 1), (result.Ingested, result.Duplicates, result.Quarantined));
        var message = Assert.Single(await _app.AllMessagesAsync(tenant, channelId));
        Assert.Equal("O original.", message["text"]!.GetValue<string>().Trim());
        var item = Assert.Single(await QuarantineAsync(tenant, channelId));
        Assert.Equal(MailIngestor.DuplicateMessageId, item["reason"]!.GetValue<string>());
        var blobs = new BlobContainerClient(_app.StorageConnectionString, MailArchive.Container);
        var raws = new List<string>();
        await foreach (var blob in blobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{tenant.CompanyId}/{channelId}/", CancellationToken.None))
        {
            if (blob.Name.EndsWith("/message.eml", StringComparison.Ordinal))
            {
                raws.Add((await blobs.GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToString());
            }
        }

        Assert.Contains(raws, r => r.Contains("O original.", StringComparison.Ordinal));
        Assert.Contains(raws, r => r.Contains("Outro corpo", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RePointingAChannelToAnotherMailboxWithTheSameUidValidityTakesAllOfItsMail()
    {
        var tenant = await _app.TenantAsync();
        var first = _servers.NewMailbox();
        var second = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, first));
        var customer = "gil@" + MailServerProcess.CustomerDomain;
        await _servers.SendAsync(customer, first.Address, "Primeira caixa 1", "a");
        await _servers.SendAsync(customer, first.Address, "Primeira caixa 2", "b");
        await _servers.WaitForInboxAsync(first, 2);
        await _servers.SendAsync(customer, second.Address, "Segunda caixa 1", "c");
        await _servers.SendAsync(customer, second.Address, "Segunda caixa 2", "d");
        await _servers.WaitForInboxAsync(second, 2);
        Assert.Equal(2, (await _app.PollAsync(tenant, channelId)).Ingested);
        // Dovecot gives two mailboxes made in the same second one UIDVALIDITY; make it so whatever the clock did.
        uint validity;
        using (var imap = await _servers.ImapAsync(second))
        {
            await imap.Inbox.OpenAsync(FolderAccess.ReadOnly);
            validity = imap.Inbox.UidValidity;
        }

        var states = new TableClient(_app.StorageConnectionString, MailboxStateStore.Table);
        var row = (await states.GetEntityAsync<TableEntity>(tenant.CompanyId, channelId)).Value;
        var parts = row.GetString("Cursor").Split(':');
        parts[^2] = validity.ToString(System.Globalization.CultureInfo.InvariantCulture);
        row["Cursor"] = string.Join(':', parts);
        await states.UpdateEntityAsync(row, row.ETag);
        var channels = _app.Services.GetRequiredService<IChannelStore>();
        var stored = (await channels.GetAsync(tenant.CompanyId, channelId))!;
        stored.Settings["address"] = second.Address;
        await channels.UpdateAsync(stored with { UpdatedAt = DateTimeOffset.UtcNow }, new Dictionary<string, string> { [EmailSettings.PasswordField] = second.Password });

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(2, result.Ingested);
        Assert.Equal(4, (await _app.AllMessagesAsync(tenant, channelId)).Count);
    }

    [Fact]
    public async Task TheFirstPop3PollTakesTheMailboxHistoryAsReadAndKeepsWhatItTookInTableRows()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        await _servers.SendAsync("velho@" + MailServerProcess.CustomerDomain, mailbox.Address, "Histórico 1", "De antes do canal.");
        await _servers.SendAsync("velho@" + MailServerProcess.CustomerDomain, mailbox.Address, "Histórico 2", "De antes do canal.");
        await _servers.WaitForInboxAsync(mailbox, 2);
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));

        var first = await _app.PollAsync(tenant, channelId);
        await _servers.SendAsync("novo@" + MailServerProcess.CustomerDomain, mailbox.Address, "Nova", "Chegou depois.");
        await _servers.WaitForInboxAsync(mailbox, 3);
        var second = await _app.PollAsync(tenant, channelId);

        Assert.Equal(new PollResult(0, 0, 0), first);
        Assert.Equal(1, second.Ingested);
        Assert.Equal("Nova", Assert.Single(await _app.AllMessagesAsync(tenant, channelId))["subject"]!.GetValue<string>());
        var states = new TableClient(_app.StorageConnectionString, MailboxStateStore.Table);
        var rows = new List<TableEntity>();
        await foreach (var e in states.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {tenant.CompanyId} and RowKey gt {channelId + "_"} and RowKey lt {channelId + "`"}")))
        {
            rows.Add(e);
        }

        Assert.Equal(3, Assert.Single(rows).GetString("Uidls").Split('\n').Length);
        var blobs = new BlobContainerClient(_app.StorageConnectionString, MailArchive.Container);
        Assert.False(await blobs.GetBlobClient($"state/{tenant.CompanyId}/{channelId}/pop3-uidl.txt").ExistsAsync());
    }

    private async Task<List<System.Text.Json.Nodes.JsonObject>> QuarantineAsync(TestTenant tenant, string channelId)
    {
        var listing = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/quarantine"), HttpStatusCode.OK);
        return listing["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
    }
}
