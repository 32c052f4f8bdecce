using System.Net;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using MailKit;
using Microsoft.Extensions.DependencyInjection;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// Ingestion from real Dovecot mailboxes (mail delivered by real Postfix), one poll at a time, exactly as the
/// MailboxPoll function runs it; the live timer path is in <see cref="EmailLiveTests"/>.
/// </summary>
public sealed class EmailIngestTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private const int MaxBytes = 64 * 1024;
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers, new Dictionary<string, string?> { ["Omni:Email:MaxMessageBytes"] = MaxBytes.ToString() }));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<(TestTenant Tenant, TestMailbox Mailbox, string ChannelId)> ImapChannelAsync(TestTenant? tenant = null)
    {
        tenant ??= await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        return (tenant, mailbox, await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox)));
    }

    [Fact]
    public async Task UnreadImapMailIsStoredInAConversationOfItsSenderAndThenMarkedSeen()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var customer = $"maria-{Guid.NewGuid():N}"[..14] + "@" + MailServerProcess.CustomerDomain;
        await _servers.SendAsync(customer, mailbox.Address, "Pedido 4711 não chegou", "Olá, meu pedido não chegou.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _servers.SendAsync(customer, mailbox.Address, "Outra coisa", "E também quero trocar o endereço.");
        await _servers.WaitForInboxAsync(mailbox, 2);

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(2, result.Ingested);
        var conversation = Assert.Single(await _app.ConversationsAsync(tenant, channelId));
        Assert.Equal(customer, conversation["contact"]!["externalId"]!.GetValue<string>());
        Assert.Equal("Pedido 4711 não chegou", conversation["subject"]!.GetValue<string>());
        var messages = await _app.MessagesAsync(tenant, conversation["id"]!.GetValue<string>());
        Assert.Equal(["Olá, meu pedido não chegou.", "E também quero trocar o endereço."], messages.Select(m => m["text"]!.GetValue<string>().Trim()));
        Assert.All(await _servers.ReadInboxAsync(mailbox), m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));
        var blobs = new BlobContainerClient(_app.StorageConnectionString, MailArchive.Container);
        var raw = new List<string>();
        await foreach (var blob in blobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{tenant.CompanyId}/{channelId}/", CancellationToken.None))
        {
            raw.Add(blob.Name);
        }

        Assert.Equal(2, raw.Count(n => n.EndsWith("/message.eml", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AttachmentsAreKeptInBlobStorageAndListedOnTheMessage()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var pdf = System.Text.Encoding.ASCII.GetBytes("%PDF-1.4 nota fiscal " + new string('n', 3000));
        await _servers.SendAsync("fiscal@" + MailServerProcess.CustomerDomain, mailbox.Address, "Nota fiscal", "Segue a nota.", edit: m =>
        {
            var body = new MimeKit.BodyBuilder { TextBody = "Segue a nota." };
            body.Attachments.Add("nota.pdf", pdf, new MimeKit.ContentType("application", "pdf"));
            m.Body = body.ToMessageBody();
        });
        await _servers.WaitForInboxAsync(mailbox, 1);

        Assert.Equal(1, (await _app.PollAsync(tenant, channelId)).Ingested);

        var message = Assert.Single(await _app.AllMessagesAsync(tenant, channelId));
        var attachment = Assert.Single(message["attachments"]!.AsArray())!;
        Assert.Equal("nota.pdf", attachment["fileName"]!.GetValue<string>());
        Assert.Equal("application/pdf", attachment["contentType"]!.GetValue<string>());
        Assert.Equal(pdf.Length, attachment["size"]!.GetValue<long>());
        var blobs = new BlobContainerClient(_app.StorageConnectionString, MailArchive.Container);
        var stored = new List<string>();
        await foreach (var blob in blobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{tenant.CompanyId}/{channelId}/", CancellationToken.None))
        {
            stored.Add(blob.Name);
        }

        var name = Assert.Single(stored, n => n.EndsWith("-nota.pdf", StringComparison.Ordinal));
        Assert.Equal(pdf, (await blobs.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToArray());
    }

    [Fact]
    public async Task MailAlreadyReadByAnotherClientIsNotIngested()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        await _servers.SendAsync("joao@" + MailServerProcess.CustomerDomain, mailbox.Address, "Já lido", "Lido no celular.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _servers.MarkAllSeenAsync(mailbox);
        await _servers.SendAsync("joao@" + MailServerProcess.CustomerDomain, mailbox.Address, "Novo", "Este é novo.");
        await _servers.WaitForInboxAsync(mailbox, 2);

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal(1, result.Ingested);
        var message = Assert.Single(await _app.AllMessagesAsync(tenant, channelId));
        Assert.Equal("Novo", message["subject"]!.GetValue<string>());
    }

    [Fact]
    public async Task APollThatFindsNothingNewWritesNothing()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        await _servers.SendAsync("ana@" + MailServerProcess.CustomerDomain, mailbox.Address, "Oi", "Uma vez.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        Assert.Equal(1, (await _app.PollAsync(tenant, channelId)).Ingested);
        var state = new TableClient(_app.StorageConnectionString, MailboxStateStore.Table);
        var before = (await state.GetEntityAsync<TableEntity>(tenant.CompanyId, channelId)).Value;

        var idle = await _app.PollAsync(tenant, channelId);

        var after = (await state.GetEntityAsync<TableEntity>(tenant.CompanyId, channelId)).Value;
        Assert.Equal(new PollResult(0, 0, 0), idle);
        Assert.Equal(before.ETag, after.ETag);
        Assert.Null(after.GetString("LeaseOwner"));
        Assert.Single(await _app.AllMessagesAsync(tenant, channelId));
    }

    [Fact]
    public async Task ACursorFromAnotherUidValidityIsDroppedAndUnseenMailIsStillIngested()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        // As if the server had renumbered the folder: the stored UIDs belong to another UIDVALIDITY.
        await new TableClient(_app.StorageConnectionString, MailboxStateStore.Table)
            .UpsertEntityAsync(new TableEntity(tenant.CompanyId, channelId) { ["Cursor"] = "1:999999" });
        await _servers.SendAsync("gil@" + MailServerProcess.CustomerDomain, mailbox.Address, "Depois da troca", "Ainda chega.");
        await _servers.WaitForInboxAsync(mailbox, 1);

        Assert.Equal(1, (await _app.PollAsync(tenant, channelId)).Ingested);

        var cursor = (await new TableClient(_app.StorageConnectionString, MailboxStateStore.Table).GetEntityAsync<TableEntity>(tenant.CompanyId, channelId)).Value.GetString("Cursor");
        Assert.NotEqual("1:999999", cursor);
        Assert.EndsWith(":1", cursor, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSameMessageIdNeverBecomesTwoMessages()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var id = MimeKit.Utils.MimeUtils.GenerateMessageId(MailServerProcess.CustomerDomain);
        await _servers.SendAsync("bia@" + MailServerProcess.CustomerDomain, mailbox.Address, "Duplicada", "Mesma mensagem.", messageId: id);
        await _servers.SendAsync("bia@" + MailServerProcess.CustomerDomain, mailbox.Address, "Duplicada", "Mesma mensagem.", messageId: id);
        await _servers.WaitForInboxAsync(mailbox, 2);

        var result = await _app.PollAsync(tenant, channelId);

        Assert.Equal((1, 1), (result.Ingested, result.Duplicates));
        Assert.Single(await _app.AllMessagesAsync(tenant, channelId));
        Assert.All(await _servers.ReadInboxAsync(mailbox), m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));
    }

    [Fact]
    public async Task AReplyNamingAnEarlierMessageJoinsItsConversationEvenWithAnotherSubject()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var customer = "caio@" + MailServerProcess.CustomerDomain;
        var first = await _servers.SendAsync(customer, mailbox.Address, "Troca de produto", "Quero trocar.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _app.PollAsync(tenant, channelId);
        var conversationId = Assert.Single(await _app.ConversationsAsync(tenant, channelId))["id"]!.GetValue<string>();
        await _app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/close", null);
        // A new mail opens a new conversation now that the first is closed…
        await _servers.SendAsync(customer, mailbox.Address, "Outro assunto", "Nova conversa.");
        await _servers.WaitForInboxAsync(mailbox, 2);
        await _app.PollAsync(tenant, channelId);

        Assert.Equal(2, (await _app.ConversationsAsync(tenant, channelId)).Count);
        var open = (await _app.ConversationsAsync(tenant, channelId)).Single(c => c["status"]!.ToString().Equals("open", StringComparison.OrdinalIgnoreCase));
        // …and a reply to that new conversation's mail joins it, whatever its subject.
        var newest = (await _app.MessagesAsync(tenant, open["id"]!.GetValue<string>())).Single();
        var reply = await _servers.SendAsync(customer, mailbox.Address, "Re: Outro assunto (cont.)", "Complemento.", inReplyTo: newest["externalId"]!.GetValue<string>());
        await _servers.WaitForInboxAsync(mailbox, 3);
        await _app.PollAsync(tenant, channelId);

        var history = await _app.MessagesAsync(tenant, open["id"]!.GetValue<string>());
        Assert.Equal(2, history.Count);
        Assert.Equal(reply.MessageId, history[1]["externalId"]!.GetValue<string>());
        Assert.Equal(first.MessageId, (await _app.MessagesAsync(tenant, conversationId)).Single()["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReplyFromSomeoneElseArrivingInTheSamePollAsItsParentJoinsItsConversation()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var parent = await _servers.SendAsync("chefe@" + MailServerProcess.CustomerDomain, mailbox.Address, "Contrato", "Segue o contrato.");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _servers.SendAsync("colega@" + MailServerProcess.CustomerDomain, mailbox.Address, "Re: Contrato", "Complementando.", inReplyTo: parent.MessageId);
        await _servers.SendAsync("outro@" + MailServerProcess.CustomerDomain, mailbox.Address, "Sem relação", "Outro assunto.");
        await _servers.WaitForInboxAsync(mailbox, 3);

        Assert.Equal(3, (await _app.PollAsync(tenant, channelId)).Ingested);

        var conversations = await _app.ConversationsAsync(tenant, channelId);
        Assert.Equal(2, conversations.Count);
        var contract = conversations.Single(c => c["subject"]!.GetValue<string>() == "Contrato");
        Assert.Equal(2, (await _app.MessagesAsync(tenant, contract["id"]!.GetValue<string>())).Count);
    }

    [Fact]
    public async Task OversizedAndUnparseableMailIsQuarantinedListedAndNeverBlocksTheMailbox()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var customer = "dani@" + MailServerProcess.CustomerDomain;
        await _servers.SendAsync(customer, mailbox.Address, "Anexo grande", new string('x', MaxBytes * 2));
        await RawImap.AppendAsync(_servers, mailbox, "this is not a mail header\r\nnor this\r\n"u8.ToArray());
        await _servers.SendAsync(customer, mailbox.Address, "Depois dos problemas", "Esta deve entrar.");
        await _servers.WaitForInboxAsync(mailbox, 3);

        var first = await _app.PollAsync(tenant, channelId);
        var second = await _app.PollAsync(tenant, channelId);

        Assert.Equal((1, 2), (first.Ingested, first.Quarantined));
        Assert.Equal(new PollResult(0, 0, 0), second);
        Assert.Equal("Depois dos problemas", Assert.Single(await _app.AllMessagesAsync(tenant, channelId))["subject"]!.GetValue<string>());
        var listing = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/quarantine"), HttpStatusCode.OK);
        var items = listing["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
        Assert.Equal(["oversized", "unparseable"], items.Select(i => i["reason"]!.GetValue<string>()).Order());
        Assert.True(items.Single(i => i["reason"]!.GetValue<string>() == "oversized")["size"]!.GetValue<long>() > MaxBytes);
        var inbox = await _servers.ReadInboxAsync(mailbox);
        Assert.All(inbox, m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));
        Assert.Equal(2, inbox.Count(m => m.Keywords.Contains(ImapMailboxPoller.QuarantinedKeyword)));
        var audit = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/audit/events"), HttpStatusCode.OK);
        Assert.Equal(2, audit["items"]!.AsArray().Count(e => e!["action"]!.GetValue<string>() == "mail.quarantined"));
        // Kept whole: the oversized mail's raw bytes are in Blob Storage.
        var blobs = new BlobContainerClient(_app.StorageConnectionString, MailArchive.Container);
        var sizes = new List<long>();
        await foreach (var blob in blobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"quarantine/{tenant.CompanyId}/{channelId}/", CancellationToken.None))
        {
            sizes.Add(blob.Properties.ContentLength ?? 0);
        }

        Assert.Equal(2, sizes.Count);
        Assert.Contains(sizes, s => s > MaxBytes * 2);
    }

    [Fact]
    public async Task Pop3TakesEachMessageOnceAcrossManyPollsAndDeletesNothing()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.Pop3Settings(_servers, mailbox));
        // The first poll takes what was there before as history (TheFirstPop3PollTakesTheMailboxHistoryAsRead…).
        Assert.Equal(new PollResult(0, 0, 0), await _app.PollAsync(tenant, channelId));
        for (var i = 0; i < 3; i++)
        {
            await _servers.SendAsync($"cliente{i}@{MailServerProcess.CustomerDomain}", mailbox.Address, $"POP {i}", $"Mensagem {i}");
        }

        await _servers.WaitForInboxAsync(mailbox, 3);
        var results = new List<PollResult>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await _app.PollAsync(tenant, channelId));
        }

        await _servers.SendAsync($"cliente9@{MailServerProcess.CustomerDomain}", mailbox.Address, "POP 9", "Mensagem 9");
        await _servers.WaitForInboxAsync(mailbox, 4);
        for (var i = 0; i < 3; i++)
        {
            results.Add(await _app.PollAsync(tenant, channelId));
        }

        Assert.Equal([3, 0, 0, 0, 1, 0, 0], results.Select(r => r.Ingested));
        Assert.All(results, r => Assert.Equal(0, r.Duplicates));
        var messages = await _app.AllMessagesAsync(tenant, channelId);
        Assert.Equal(["POP 0", "POP 1", "POP 2", "POP 9"], messages.Select(m => m["subject"]!.GetValue<string>()).Order());
        Assert.Equal(4, (await _servers.ReadInboxAsync(mailbox)).Count);
    }

    [Fact]
    public async Task AnotherCompanySeesNeitherTheMailNorTheQuarantineAndCannotPollTheMailbox()
    {
        var (tenant, mailbox, channelId) = await ImapChannelAsync();
        var other = await _app.TenantAsync("Outra");
        await _servers.SendAsync("eva@" + MailServerProcess.CustomerDomain, mailbox.Address, "Privado", "Só da Acme.");
        await _servers.WaitForInboxAsync(mailbox, 1);

        // A poll request that pairs another company with this channel finds no channel and touches nothing.
        var runner = _app.Services.GetRequiredService<MailboxPollRunner>();
        Assert.Null(await runner.RunAsync($"{{\"companyId\":\"{other.CompanyId}\",\"channelId\":\"{channelId}\"}}"));
        Assert.All(await _servers.ReadInboxAsync(mailbox), m => Assert.False(m.Flags.HasFlag(MessageFlags.Seen)));

        Assert.Equal(1, (await runner.RunAsync($"{{\"companyId\":\"{tenant.CompanyId}\",\"channelId\":\"{channelId}\"}}"))!.Ingested);
        var conversationId = Assert.Single(await _app.ConversationsAsync(tenant, channelId))["id"]!.GetValue<string>();
        var asOther = _app.As(other.ManagementKey);
        Assert.Equal(HttpStatusCode.NotFound, (await asOther.GetAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/quarantine")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asOther.GetAsync($"/api/companies/{other.CompanyId}/channels/{channelId}/quarantine")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await asOther.GetAsync($"/api/companies/{other.CompanyId}/conversations/{conversationId}/messages")).StatusCode);
        Assert.Empty(await _app.ConversationsAsync(other, channelId));
    }
}
