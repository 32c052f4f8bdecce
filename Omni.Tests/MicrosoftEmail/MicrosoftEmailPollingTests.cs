using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Channels;
using Omni.Email;
using Omni.MicrosoftEmail;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

public sealed class MicrosoftEmailPollingTests : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private readonly RecordingMimeSink _sink = new();
    private readonly OmniApp _app;
    private readonly MicrosoftCloudFixture _microsoft;

    public MicrosoftEmailPollingTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft)
    {
        _microsoft = microsoft;
        _app = microsoft.CreateApp(azurite, services =>
        {
            services.AddSingleton<IInboundMimeSink>(_sink);
            services.AddSingleton<IMailboxPoller, GraphMailboxPoller>();
        });
    }

    private FakeMicrosoftCloud Cloud => _microsoft.Cloud;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AnUnreadMessageIsHandedToIngestionAndOnlyThenMarkedRead()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var sent = Mail("maria@example.com", "Pedido 4711 não chegou");
        var delivered = channel.Mailbox.Deliver(sent);

        var result = await PollAsync(channel);

        var received = Assert.Single(_sink.Received, r => r.ChannelId == channel.ChannelId);
        Assert.Equal(sent.MessageId, received.Mime.MessageId);
        Assert.Equal("Pedido 4711 não chegou", received.Mime.Subject);
        Assert.Equal(channel.Tenant.CompanyId, received.CompanyId);
        Assert.Equal(1, result.Ingested);
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

        var received = Assert.Single(_sink.Received, r => r.ChannelId == channel.ChannelId);
        Assert.Equal("Novo", received.Mime.Subject);
        Assert.Equal(1, result.Ingested);
        Assert.DoesNotContain(Cloud.GraphRequests(channel.Mailbox), r => r.Path.Contains(read.Id, StringComparison.Ordinal));
        Assert.True(read.IsRead);
    }

    [Fact]
    public async Task AMessageThatCouldNotBeStoredStaysUnreadAndIsTakenByTheNextPoll()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var delivered = channel.Mailbox.Deliver(Mail("maria@example.com", "Urgente"));

        _sink.Failing = true;
        try
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => PollAsync(channel));
        }
        finally
        {
            _sink.Failing = false;
        }

        var unreadAfterFailure = !delivered.IsRead;
        var result = await PollAsync(channel);

        Assert.True(unreadAfterFailure);
        Assert.Equal(1, result.Ingested);
        Assert.True(delivered.IsRead);
    }

    [Fact]
    public async Task AnIdlePollIsOneGraphRequestAndNoStorageWrite()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Mailbox.Deliver(Mail("maria@example.com", "Olá"));
        await PollAsync(channel);
        await PollAsync(channel); // takes in the change our own PATCH made (isRead), and stores that cursor
        var stateBefore = await StateAsync(channel);
        var requestsBefore = Cloud.GraphRequests(channel.Mailbox).Count;

        var result = await PollAsync(channel);

        var stateAfter = await StateAsync(channel);
        Assert.Equal(new PollResult(0, 0, 0), result);
        Assert.Equal(requestsBefore + 1, Cloud.GraphRequests(channel.Mailbox).Count);
        Assert.Contains("/mailFolders/inbox/messages/delta", Cloud.GraphRequests(channel.Mailbox)[^1].Path);
        Assert.Equal(stateBefore.ETag, stateAfter.ETag);
        Assert.Contains("$deltatoken=", stateAfter.GetString("Cursor"));
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
        Assert.Equal(["Primeira", "Segunda"], _sink.Received.Where(r => r.ChannelId == channel.ChannelId).Select(r => r.Mime.Subject));
        var deltas = Cloud.GraphRequests(channel.Mailbox).Where(r => r.Path.Contains("/messages/delta", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain("$deltatoken=", Uri.UnescapeDataString(deltas[0].Query));
        Assert.Contains("$deltatoken=", Uri.UnescapeDataString(deltas[^1].Query));
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
    public async Task PollingOneCompanysChannelNeverTouchesAnotherCompanysMailbox()
    {
        var mine = await _app.GraphChannelAsync(Cloud);
        var theirs = await _app.GraphChannelAsync(Cloud, await _app.TenantAsync("Other"));
        theirs.Mailbox.Deliver(Mail("secret@example.com", "Deles"));
        mine.Mailbox.Deliver(Mail("maria@example.com", "Meu"));

        await PollAsync(mine);

        Assert.Empty(Cloud.GraphRequests(theirs.Mailbox));
        Assert.All(_sink.Received.Where(r => r.ChannelId == mine.ChannelId), r => Assert.Equal(mine.Tenant.CompanyId, r.CompanyId));
        Assert.DoesNotContain(_sink.Received, r => r.Mime.Subject == "Deles");
        Assert.Null(await _app.Services.GetRequiredService<IChannelStore>().GetAsync(theirs.Tenant.CompanyId, mine.ChannelId));
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
        Assert.Equal(other.Id, (await StateAsync(channel)).GetString("MailboxId"));
    }

    [Fact]
    public async Task AnExpiredDeltaLinkStartsTheSyncAgainWithoutLosingMail()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        await PollAsync(channel);
        channel.Mailbox.Deliver(Mail("maria@example.com", "Depois do 410"));
        Cloud.Throttle(channel.Mailbox, "0", status: 410);

        var result = await PollAsync(channel);

        var deltas = Cloud.GraphRequests(channel.Mailbox).Where(r => r.Path.Contains("/messages/delta", StringComparison.Ordinal)).ToList();
        Assert.Equal(1, result.Ingested);
        Assert.Equal(410, deltas[^2].Status);
        Assert.DoesNotContain("$deltatoken=", Uri.UnescapeDataString(deltas[^1].Query));
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
        (await new TableServiceClient(_app.StorageConnectionString).GetTableClient(GraphMailboxStateStore.Table)
            .GetEntityAsync<TableEntity>(channel.Tenant.CompanyId, channel.ChannelId)).Value;
}
