using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Channels;
using Omni.Conversations;
using Omni.Email;
using Omni.Tests.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>
/// Polls of Microsoft 365 mailboxes (the fake Graph) one at a time, as the MailboxPoll function runs them, into the
/// real shared ingestion and conversation store on Azurite; the timer path is in <see cref="MicrosoftEmailLiveTests"/>.
/// </summary>
public sealed class MicrosoftEmailPollingTests : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private readonly OmniApp _app;
    private readonly MicrosoftCloudFixture _microsoft;

    public MicrosoftEmailPollingTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft)
    {
        _microsoft = microsoft;
        _app = microsoft.CreateApp(azurite, SwitchableConversationStore.Install, new Dictionary<string, string?> { ["Omni:Email:MaxMessageBytes"] = (64 * 1024).ToString() });
    }

    private FakeMicrosoftCloud Cloud => _microsoft.Cloud;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AnUnreadMessageBecomesAConversationMessageAndOnlyThenIsMarkedRead()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var sent = Mail("maria@example.com", "Pedido 4711 não chegou", "Olá, meu pedido não chegou.");
        var delivered = channel.Mailbox.Deliver(sent);

        var result = await PollAsync(channel);

        Assert.Equal(1, result.Ingested);
        var conversation = Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId));
        Assert.Equal("maria@example.com", conversation["contact"]!["externalId"]!.GetValue<string>());
        Assert.Equal("Pedido 4711 não chegou", conversation["subject"]!.GetValue<string>());
        var message = Assert.Single(await _app.MessagesAsync(channel.Tenant, conversation["id"]!.GetValue<string>()));
        Assert.Equal("Olá, meu pedido não chegou.", message["text"]!.GetValue<string>().Trim());
        Assert.True(delivered.IsRead);
        var requests = Cloud.GraphRequests(channel.Mailbox).Select(r => $"{r.Method} {r.Path}").ToList();
        Assert.Equal(
            [
                $"GET /v1.0/users/{channel.Mailbox.Id}/mailFolders/inbox/messages/delta()",
                $"GET /v1.0/users/{channel.Mailbox.Id}/messages/{delivered.Id}/$value",
                $"PATCH /v1.0/users/{channel.Mailbox.Id}/messages/{delivered.Id}",
            ], requests);
        Assert.Contains("\"isRead\":true", Cloud.GraphRequests(channel.Mailbox)[2].Body);
    }

    [Fact]
    public async Task AMessageAlreadyReadIsNotTaken()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var read = channel.Mailbox.Deliver(Mail("old@example.com", "Lido antes"), isRead: true);
        channel.Mailbox.Deliver(Mail("new@example.com", "Novo"));

        var result = await PollAsync(channel);

        Assert.Equal(1, result.Ingested);
        var conversation = Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId));
        Assert.Equal("Novo", conversation["subject"]!.GetValue<string>());
        Assert.DoesNotContain(Cloud.GraphRequests(channel.Mailbox), r => r.Path.Contains(read.Id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AMessageThatCouldNotBeStoredStaysUnreadAndIsTakenByTheNextPoll()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var delivered = channel.Mailbox.Deliver(Mail("maria@example.com", "Urgente"));
        var store = (SwitchableConversationStore)_app.Services.GetRequiredService<IConversationStore>();

        store.Failing = true;
        try
        {
            await Assert.ThrowsAsync<Azure.RequestFailedException>(() => PollAsync(channel));
        }
        finally
        {
            store.Failing = false;
        }

        var unreadAfterFailure = !delivered.IsRead;
        var result = await PollAsync(channel);

        Assert.True(unreadAfterFailure);
        Assert.Equal(1, result.Ingested);
        Assert.True(delivered.IsRead);
        Assert.Single(await _app.AllMessagesAsync(channel.Tenant, channel.ChannelId));
    }

    [Fact]
    public async Task AMessageThatFailsEveryPollIsQuarantinedAfterThreeAndTheMailBehindItIsTaken()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var poison = channel.Mailbox.Deliver(Mail("rui@example.com", "Veneno"));
        channel.Mailbox.Deliver(Mail("maria@example.com", "Depois do veneno"));
        var store = (SwitchableConversationStore)_app.Services.GetRequiredService<IConversationStore>();
        store.Poisoned = m => m.ChannelId == channel.ChannelId && m.Subject == "Veneno";

        var results = new List<PollResult>();
        var unreadWhileTried = new List<bool>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await PollAsync(channel));
            unreadWhileTried.Add(!poison.IsRead);
        }

        Assert.Equal([(1, 0), (0, 0), (0, 1), (0, 0)], results.Select(r => (r.Ingested, r.Quarantined)));
        Assert.Equal([true, true, false, false], unreadWhileTried);
        Assert.Equal("Depois do veneno", Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId))["subject"]!.GetValue<string>());
        var quarantine = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/quarantine"), System.Net.HttpStatusCode.OK);
        var item = Assert.Single(quarantine["items"]!.AsArray())!;
        Assert.Equal((MailFaults.Unreadable, $"graph:{poison.Id}"), (item["reason"]!.GetValue<string>(), item["providerId"]!.GetValue<string>()));
    }

    [Fact]
    public async Task OversizedMailIsQuarantinedMarkedReadAndDoesNotBlockTheMailbox()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var huge = channel.Mailbox.Deliver(Mail("big@example.com", "Anexo enorme", new string('x', 200 * 1024)));
        var small = channel.Mailbox.Deliver(Mail("maria@example.com", "Pequena"));

        var result = await PollAsync(channel);

        Assert.Equal((1, 1), (result.Ingested, result.Quarantined));
        Assert.True(huge.IsRead);
        Assert.True(small.IsRead);
        Assert.Equal("Pequena", Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId))["subject"]!.GetValue<string>());
        var quarantine = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/quarantine"), System.Net.HttpStatusCode.OK);
        Assert.Contains($"graph:{huge.Id}", quarantine.ToJsonString());
    }

    [Fact]
    public async Task AMailMarkedUnreadAgainAfterItWasStoredStaysOneMessageAndTheMailBesideItIsTaken()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var first = channel.Mailbox.Deliver(Mail("maria@example.com", "Primeira"));
        Assert.Equal(1, (await PollAsync(channel)).Ingested);
        // Someone marks it unread on the server (or the poll died between storing and marking it read): its batch
        // with the new mail fails on its idempotency row, and both are then stored one by one.
        first.IsRead = false;
        first.Changed = Cloud.NextChange();
        var second = channel.Mailbox.Deliver(Mail("rui@example.com", "Segunda"));

        var result = await PollAsync(channel);

        Assert.Equal((1, 1, 0), (result.Ingested, result.Duplicates, result.Quarantined));
        Assert.True(first.IsRead && second.IsRead);
        Assert.Equal(["Primeira", "Segunda"], (await _app.AllMessagesAsync(channel.Tenant, channel.ChannelId)).Select(m => m["subject"]!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task AnIdlePollIsOneGraphRequestAndNoStorageWrite()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Mailbox.Deliver(Mail("maria@example.com", "Olá"));
        await PollAsync(channel);
        await PollAsync(channel); // takes in the change our own PATCH made (isRead), and stores that link
        var stateBefore = await StateAsync(channel);
        var requestsBefore = Cloud.GraphRequests(channel.Mailbox).Count;

        var result = await PollAsync(channel);

        var stateAfter = await StateAsync(channel);
        Assert.Equal(new PollResult(0, 0, 0), result);
        Assert.Equal(requestsBefore + 1, Cloud.GraphRequests(channel.Mailbox).Count);
        Assert.Contains("/mailFolders/inbox/messages/delta", Cloud.GraphRequests(channel.Mailbox)[^1].Path);
        Assert.Equal(stateBefore.ETag, stateAfter.ETag);
        Assert.Contains("$deltatoken=", Cursor(stateAfter)["link"]!.GetValue<string>());
        Assert.Null(stateAfter.GetString("LeaseOwner"));
    }

    [Fact]
    public async Task TheNextPollTakesOnlyWhatArrivedSinceTheLastOne()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Mailbox.Deliver(Mail("a@example.com", "Primeira"));
        await PollAsync(channel);
        channel.Mailbox.Deliver(Mail("b@example.com", "Segunda"));

        var result = await PollAsync(channel);

        Assert.Equal(1, result.Ingested);
        Assert.Equal(2, (await _app.AllMessagesAsync(channel.Tenant, channel.ChannelId)).Count);
        var deltas = Cloud.GraphRequests(channel.Mailbox).Where(r => r.Path.Contains("/messages/delta", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain("$deltatoken=", Uri.UnescapeDataString(deltas[0].Query));
        Assert.Contains("$deltatoken=", Uri.UnescapeDataString(deltas[^1].Query));
    }

    [Fact]
    public async Task AReplyFromTheCustomerJoinsTheConversationOfTheMessageItAnswers()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var first = Mail("maria@example.com", "Pedido 4711");
        channel.Mailbox.Deliver(first);
        await PollAsync(channel);
        var answer = Mail("maria.silva@example.org", "Outro assunto", "Complementando.");
        answer.InReplyTo = first.MessageId;
        channel.Mailbox.Deliver(answer);

        await PollAsync(channel);

        var conversation = Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId));
        Assert.Equal(2, (await _app.MessagesAsync(channel.Tenant, conversation["id"]!.GetValue<string>())).Count);
    }

    [Fact]
    public async Task AnExpiredTokenIsRenewedWithoutAFailedPoll()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await PollAsync(channel);
        var tokensBefore = Cloud.TokenRequests;
        Cloud.ExpireIssuedTokens();
        channel.Mailbox.Deliver(Mail("maria@example.com", "Depois de uma hora"));

        var result = await PollAsync(channel);

        Assert.Equal(1, result.Ingested);
        Assert.Equal(tokensBefore + 1, Cloud.TokenRequests);
        Assert.Contains(Cloud.GraphRequests(channel.Mailbox), r => r.Status == 401);
        Assert.DoesNotContain(_app.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains(channel.ChannelId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnExpiredDeltaLinkStartsTheSyncAgainWithoutLosingOrDoublingMail()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Mailbox.Deliver(Mail("maria@example.com", "Antes do 410"));
        await PollAsync(channel);
        channel.Mailbox.Deliver(Mail("maria@example.com", "Depois do 410"));
        Cloud.Throttle(channel.Mailbox, "0", status: 410);

        var result = await PollAsync(channel);

        var deltas = Cloud.GraphRequests(channel.Mailbox).Where(r => r.Path.Contains("/messages/delta", StringComparison.Ordinal)).ToList();
        Assert.Equal(1, result.Ingested);
        Assert.Equal(410, deltas[^2].Status);
        Assert.DoesNotContain("$deltatoken=", Uri.UnescapeDataString(deltas[^1].Query));
        Assert.Equal(2, (await _app.AllMessagesAsync(channel.Tenant, channel.ChannelId)).Count);
    }

    [Fact]
    public async Task ChangingTheMailboxStartsAFreshSyncOfTheNewMailbox()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await PollAsync(channel);
        var other = channel.Directory.AddMailbox("vendas@contoso.com");
        other.Deliver(Mail("cliente@example.com", "Na caixa nova"));
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var stored = (await store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!;
        stored.Settings["mailboxId"] = other.Id;
        await store.UpdateAsync(stored with { UpdatedAt = DateTimeOffset.UtcNow }, new Dictionary<string, string>());

        var result = await PollAsync(channel);

        Assert.Equal(1, result.Ingested);
        Assert.Equal(other.Id, Cursor(await StateAsync(channel))["mailbox"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnotherCompanySeesNeitherTheMailNorTheMailboxOfThisChannel()
    {
        var mine = await _app.GraphChannelAsync(Cloud);
        var other = await _app.TenantAsync("Other");
        var theirs = await _app.GraphChannelAsync(Cloud, other);
        theirs.Mailbox.Deliver(Mail("secret@example.com", "Deles"));
        mine.Mailbox.Deliver(Mail("maria@example.com", "Meu"));

        await PollAsync(mine);

        Assert.Empty(Cloud.GraphRequests(theirs.Mailbox));
        Assert.Equal("Meu", Assert.Single(await _app.ConversationsAsync(mine.Tenant, mine.ChannelId))["subject"]!.GetValue<string>());
        var crossed = await _app.As(other.ManagementKey).GetAsync($"/api/companies/{other.CompanyId}/conversations?channelId={mine.ChannelId}");
        Assert.DoesNotContain("Meu", await crossed.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await _app.As(other.ManagementKey).GetAsync($"/api/companies/{mine.Tenant.CompanyId}/conversations?channelId={mine.ChannelId}")).StatusCode);
        Assert.Null(await _app.Services.GetRequiredService<IChannelStore>().GetAsync(other.CompanyId, mine.ChannelId));
    }

    [Fact]
    public async Task HtmlMailArrivesWithNothingThatCouldRunAndItsMimeIsArchivedExactlyAsGraphGaveIt()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var sent = Mail("ana@example.com", "Foto do pedido");
        sent.Body = new TextPart("html") { Text = InboundHtmlTests.HostileHtml };
        var delivered = channel.Mailbox.Deliver(sent);

        Assert.Equal(1, (await PollAsync(channel)).Ingested);

        var message = Assert.Single(await _app.AllMessagesAsync(channel.Tenant, channel.ChannelId));
        InboundHtmlTests.AssertSafe(message["html"]!.GetValue<string>());
        Assert.Equal(delivered.Mime, await InboundHtmlTests.ArchivedRawAsync(_app, channel.Tenant.CompanyId, channel.ChannelId));
    }

    [Fact]
    public async Task AGraphMessageWhoseSizeTheDeltaDoesNotGiveHoldsItsSpooledLengthInTheIngestBudget()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var delivered = channel.Mailbox.Deliver(Mail("maria@example.com", "Com tamanho", new string('t', 20 * 1024)));
        var budget = _app.Services.GetRequiredService<IngestBudget>();

        Assert.Equal(1, (await PollAsync(channel)).Ingested);

        Assert.Equal(((long)delivered.Mime.Length, 0L), (budget.Peak, budget.InUse));
    }

    internal static MimeMessage Mail(string from, string subject, string text = "Olá, preciso de ajuda.")
    {
        var message = new MimeMessage { Subject = subject, Body = new TextPart("plain") { Text = text } };
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse("atendimento@contoso.com"));
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId("example.com");
        return message;
    }

    private async Task<PollResult> PollAsync(GraphMailboxChannel channel)
    {
        var stored = await _app.Services.GetRequiredService<IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId);
        var poller = _app.Services.GetServices<IMailboxPoller>().Single(p => p.ChannelType == "microsoft-email");
        return await poller.PollAsync(stored!);
    }

    private async Task<TableEntity> StateAsync(GraphMailboxChannel channel) =>
        (await new TableServiceClient(_app.StorageConnectionString).GetTableClient(MailboxStateStore.Table)
            .GetEntityAsync<TableEntity>(channel.Tenant.CompanyId, channel.ChannelId)).Value;

    private static JsonObject Cursor(TableEntity state) => JsonNode.Parse(state.GetString("Cursor"))!.AsObject();
}
