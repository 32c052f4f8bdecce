using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>
/// The whole path with the app's own triggers running against the fake Graph: the MailboxPollTimer (every 2 s
/// here) queues polls of Graph mailboxes, MailboxPoll ingests them, SendOutbound sends replies by Graph. On an
/// Azurite of its own, so no other test class's channels are polled.
/// </summary>
public sealed class MicrosoftEmailLiveTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft) : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private AzuriteProcess _storage = null!;
    private OmniApp _app = null!;

    private FakeMicrosoftCloud Cloud => microsoft.Cloud;

    public async ValueTask InitializeAsync()
    {
        _storage = await AzuriteProcess.StartAsync();
        _app = microsoft.CreateApp(azurite, settings: EmailLiveTests.LiveSettings(_storage.ConnectionString));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task AnUnreadMessageIsInTheHistoryWithinThePollIntervalAndIsMarkedReadOnTheServer()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var delivered = channel.Mailbox.Deliver(MicrosoftEmailPollingTests.Mail("maria@example.com", "Ao vivo", "Chegou pelo Graph."));

        // pollSeconds is 10 (the minimum): within the interval plus 10 s.
        var messages = await _app.WaitForMessagesAsync(channel.Tenant, channel.ChannelId, m => m.Count == 1, TimeSpan.FromSeconds(10 + 10), "the Graph mail is in the history");

        Assert.Equal("Chegou pelo Graph.", messages[0]["text"]!.GetValue<string>().Trim());
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!delivered.IsRead && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(delivered.IsRead);
    }

    [Fact]
    public async Task AnAgentReplyGoesOutByGraphInTheThreadWithTheSignatureAndTheAnswerJoinsTheConversation()
    {
        const string signature = "<p style=\"text-align:center;color:#336699\"><b>Contoso</b> <i>Atendimento</i></p><script>alert(1)</script>";
        var channel = await _app.GraphChannelAsync(Cloud, signatureHtml: signature);
        var original = MicrosoftEmailPollingTests.Mail("cliente@example.com", "Pedido 4711", "Onde está meu pedido?");
        channel.Mailbox.Deliver(original);
        await _app.WaitForMessagesAsync(channel.Tenant, channel.ChannelId, m => m.Count == 1, TimeSpan.FromSeconds(20), "the customer's mail is ingested");
        var conversationId = Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId))["id"]!.GetValue<string>();
        var preview = await (await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/signature/preview")).Content.ReadAsStringAsync();

        var accepted = await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "Seu pedido sai hoje." });
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (channel.Mailbox.Sent.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var reply = Assert.Single(channel.Mailbox.Sent);
        Assert.Equal("Re: Pedido 4711", reply.Subject);
        Assert.Equal(original.MessageId, reply.InReplyTo);
        Assert.Contains(original.MessageId, reply.References);
        Assert.Equal(channel.Mailbox.Address, reply.From.Mailboxes.Single().Address);
        Assert.Equal("cliente@example.com", reply.To.Mailboxes.Single().Address);
        Assert.Contains("Seu pedido sai hoje.", reply.TextBody, StringComparison.Ordinal);
        Assert.Contains("<b>Contoso</b>", preview, StringComparison.Ordinal);
        Assert.Contains(preview, reply.HtmlBody, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", reply.HtmlBody, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(Cloud.GraphRequests(channel.Mailbox), r => r.Method == "POST" && r.Path.EndsWith("/sendMail", StringComparison.Ordinal) && r.Status == 202);
        var sent = await _app.WaitForMessagesAsync(channel.Tenant, channel.ChannelId,
            m => m.Any(x => x["direction"]!.ToString().Equals("outbound", StringComparison.OrdinalIgnoreCase) && x["status"]!.ToString().Equals("sent", StringComparison.OrdinalIgnoreCase)),
            TimeSpan.FromSeconds(10), "the reply is recorded as sent");
        Assert.Equal(2, sent.Count);

        // The customer answers our reply with another subject: it threads by In-Reply-To into the same conversation.
        var answer = MicrosoftEmailPollingTests.Mail("cliente@example.com", "Obrigada", "Recebido, obrigada!");
        answer.InReplyTo = reply.MessageId;
        channel.Mailbox.Deliver(answer);
        await _app.WaitForMessagesAsync(channel.Tenant, channel.ChannelId, m => m.Count == 3, TimeSpan.FromSeconds(20), "the customer's answer is ingested");
        Assert.Single(await _app.ConversationsAsync(channel.Tenant, channel.ChannelId));
    }
}
