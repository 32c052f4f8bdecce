using System.Net;
using System.Net.Http.Json;
using MailKit;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// The whole path with the app's own triggers running: the MailboxPollTimer (every 2 s here instead of every
/// minute) queues polls, MailboxPoll ingests, SendOutbound sends replies over SMTP through Postfix. On an Azurite
/// of its own, so no other test class's channels are polled.
/// </summary>
public sealed class EmailLiveTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private AzuriteProcess _storage = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _storage = await AzuriteProcess.StartAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers, LiveSettings(_storage.ConnectionString)));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _storage.DisposeAsync();
    }

    /// <summary>Runs the triggers in-process, with the poll timer ticking every 2 s.</summary>
    public static Dictionary<string, string?> LiveSettings(string storage) => new()
    {
        ["AzureWebJobsStorage"] = storage,
        ["Omni:Triggers:RunLocally"] = "true",
        ["Omni:Triggers:FunctionsDirectory"] = FastPollFunctions(),
        ["Omni:Email:PollTick"] = "00:00:02",
        ["Omni:Conversations:OutboundRetryDelay"] = "00:00:01",
    };

    /// <summary>A copy of the app's function.json files with the poll timer's schedule at every 2 s.</summary>
    public static string FastPollFunctions() => FunctionsFolder.WithSchedule("MailboxPollTimer", "*/2 * * * * *");

    [Fact]
    public async Task MailSentThroughPostfixAppearsInHistoryWithinThePollIntervalAndIsMarkedSeen()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox, pollSeconds: 10));
        var customer = "live@" + MailServerProcess.CustomerDomain;

        await _servers.SendAsync(customer, mailbox.Address, "Ao vivo", "Chegou pelo Postfix.");
        await _servers.WaitForInboxAsync(mailbox, 1);

        var messages = await _app.WaitForMessagesAsync(tenant, channelId, m => m.Count == 1, TimeSpan.FromSeconds(10 + 10), "the mail is in the history");
        Assert.Equal("Chegou pelo Postfix.", messages[0]["text"]!.GetValue<string>().Trim());
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!(await _servers.ReadInboxAsync(mailbox)).All(m => m.Flags.HasFlag(MessageFlags.Seen)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.All(await _servers.ReadInboxAsync(mailbox), m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));
    }

    [Fact]
    public async Task AnAgentReplyReachesTheCustomerThreadedWithTheSignatureAndTheirAnswerJoinsTheConversation()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var customer = _servers.NewMailbox(MailServerProcess.CustomerDomain, "cliente");
        const string signature = "<p style=\"text-align:center;color:#336699\"><b>Acme</b> <i>Suporte</i> <font size=\"2\">(11) 4000-0000</font></p>"
            + "<img src=\"https://acme.example/logo.png\" onerror=\"alert(1)\"><script>alert(2)</script><a href=\"javascript:alert(3)\">x</a>";
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox, signatureHtml: signature, pollSeconds: 10));
        var original = await _servers.SendAsync(customer.Address, mailbox.Address, "Pedido 4711", "Onde está meu pedido?");
        await _servers.WaitForInboxAsync(mailbox, 1);
        await _app.WaitForMessagesAsync(tenant, channelId, m => m.Count == 1, TimeSpan.FromSeconds(20), "the customer's mail is ingested");
        var conversationId = Assert.Single(await _app.ConversationsAsync(tenant, channelId))["id"]!.GetValue<string>();
        var preview = await (await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/signature/preview")).Content.ReadAsStringAsync();

        var sent = await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "Seu pedido sai hoje.\nObrigado!" });
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);

        await _servers.WaitForInboxAsync(customer, 1);
        var (reply, _, _) = Assert.Single(await _servers.ReadInboxAsync(customer));
        Assert.Equal("Re: Pedido 4711", reply.Subject);
        Assert.Equal(original.MessageId, reply.InReplyTo);
        Assert.Contains(original.MessageId, reply.References);
        Assert.Equal(mailbox.Address, reply.From.Mailboxes.Single().Address);
        Assert.Equal("Suporte Acme", reply.From.Mailboxes.Single().Name);
        Assert.Contains("Seu pedido sai hoje.", reply.TextBody, StringComparison.Ordinal);
        Assert.Contains(preview, reply.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("<b>Acme</b>", reply.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("text-align: center", reply.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("https://acme.example/logo.png", reply.HtmlBody, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", reply.HtmlBody, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("onerror", reply.HtmlBody, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("javascript:", reply.HtmlBody, StringComparison.OrdinalIgnoreCase);
        var history = await _app.MessagesAsync(tenant, conversationId);
        var outbound = history.Single(m => m["direction"]!.ToString().Equals("outbound", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("sent", outbound["status"]!.ToString(), ignoreCase: true);

        // The customer answers our reply with a new subject: it threads by In-Reply-To into the same conversation.
        await _servers.SendAsync(customer.Address, mailbox.Address, "Obrigada", "Recebido, obrigada!", inReplyTo: reply.MessageId);
        await _servers.WaitForInboxAsync(mailbox, 2);
        await _app.WaitForMessagesAsync(tenant, channelId, m => m.Count == 3, TimeSpan.FromSeconds(20), "the customer's answer is ingested");
        Assert.Single(await _app.ConversationsAsync(tenant, channelId));
        Assert.Equal(3, (await _app.MessagesAsync(tenant, conversationId)).Count);
    }
}
