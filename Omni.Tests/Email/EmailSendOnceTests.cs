using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.Email;

/// <summary>An agent's reply queued on an e-mail conversation, and the queue message that asks SendOutbound to send it.</summary>
internal sealed record QueuedReply(TestTenant Tenant, string ConversationId, string MessageId, TestMailbox Customer, string Body);

internal static class QueuedReplies
{
    public static async Task<QueuedReply> ArrangeAsync(OmniApp app, MailServerProcess servers, Func<TestMailbox, object>? settings = null)
    {
        var tenant = await app.TenantAsync();
        var mailbox = servers.NewMailbox();
        var customer = servers.NewMailbox(MailServerProcess.CustomerDomain, "c");
        var channelId = await app.EmailChannelAsync(tenant, settings?.Invoke(mailbox) ?? EmailArrange.ImapSettings(servers, mailbox));
        var store = app.Services.GetRequiredService<IConversationStore>();
        var inboundId = $"in-{Guid.NewGuid():N}@{MailServerProcess.CustomerDomain}";
        var inbound = await store.AppendInboundAsync(new InboundMessage(tenant.CompanyId, channelId, inboundId, new ContactInfo(customer.Address, "Cliente", customer.Address),
            "Onde está meu pedido?", Subject: "Pedido 4711", Mail: new MailHeaders(inboundId, null, [], customer.Address, [mailbox.Address], null), BodyHash: "h"));
        var conversation = (await store.GetConversationAsync(tenant.CompanyId, inbound.Message.ConversationId))!;
        var reply = await store.AppendOutboundAsync(conversation, "Já enviamos.", null, []);
        var body = JsonSerializer.Serialize(new OutboundWork(tenant.CompanyId, conversation.Id, reply.Id), JsonSerializerOptions.Web);
        return new QueuedReply(tenant, conversation.Id, reply.Id, customer, body);
    }

    /// <summary>Runs the SendOutbound function on one queue message, as the host does (a scope per invocation).</summary>
    public static async Task SendOutboundAsync(this OmniApp app, string body)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<OutboundSender>().HandleAsync(body);
    }

    public static async Task<Message> MessageAsync(OmniApp app, QueuedReply reply) =>
        (await app.Services.GetRequiredService<IConversationStore>().GetMessageAsync(reply.Tenant.CompanyId, reply.ConversationId, reply.MessageId))!;

    /// <summary>The customer's inbox once Postfix had time to deliver anything else that was handed to it.</summary>
    public static async Task<int> SettledInboxCountAsync(MailServerProcess servers, TestMailbox customer)
    {
        await Task.Delay(TimeSpan.FromSeconds(3));
        return (await servers.ReadInboxAsync(customer)).Count;
    }
}

/// <summary>A reply over SMTP goes out once however often, or however many at a time, its queue message is handled.</summary>
public sealed class EmailSendOnceTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers), SwitchableConversationStore.Install);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task TheSameQueueMessageHandledTwiceAtOnceSendsOneMail()
    {
        var reply = await QueuedReplies.ArrangeAsync(_app, _servers);

        await Task.WhenAll(_app.SendOutboundAsync(reply.Body), _app.SendOutboundAsync(reply.Body));

        await _servers.WaitForInboxAsync(reply.Customer, 1);
        Assert.Equal(1, await QueuedReplies.SettledInboxCountAsync(_servers, reply.Customer));
        Assert.Equal(MessageStatus.Sent, (await QueuedReplies.MessageAsync(_app, reply)).Status);
    }

    [Fact]
    public async Task ARedeliveryAfterTheSentStatusCouldNotBeWrittenDoesNotSendAgain()
    {
        var reply = await QueuedReplies.ArrangeAsync(_app, _servers);
        var store = (SwitchableConversationStore)_app.Services.GetRequiredService<IConversationStore>();

        store.FailingSentWrites = true;
        await Assert.ThrowsAsync<Azure.RequestFailedException>(() => _app.SendOutboundAsync(reply.Body));
        store.FailingSentWrites = false;
        await _app.SendOutboundAsync(reply.Body);

        await _servers.WaitForInboxAsync(reply.Customer, 1);
        Assert.Equal(1, await QueuedReplies.SettledInboxCountAsync(_servers, reply.Customer));
    }
}

/// <summary>A reply whose SMTP send may or may not have been accepted is failed visibly as unknown, never sent again blindly.</summary>
public sealed class EmailInterruptedSendTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        // Every claim counts as left by a crash at once: the test plays the crashed worker itself.
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers, new Dictionary<string, string?> { ["Omni:Conversations:OutboundClaimTimeout"] = "00:00:00" }));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AReplyLeftMidHandOverByACrashIsFailedAsUnknownAndNotSentAgain()
    {
        var reply = await QueuedReplies.ArrangeAsync(_app, _servers);
        var store = _app.Services.GetRequiredService<IConversationStore>();
        Assert.Equal(ClaimOutcome.Claimed, (await store.ClaimSendAsync(reply.Tenant.CompanyId, reply.ConversationId, reply.MessageId, 1, TimeSpan.FromMinutes(10))).Outcome);
        await store.MarkHandOverAsync(reply.Tenant.CompanyId, reply.ConversationId, reply.MessageId);

        await _app.SendOutboundAsync(reply.Body);

        var message = await QueuedReplies.MessageAsync(_app, reply);
        Assert.Equal(MessageStatus.Failed, message.Status);
        Assert.Contains("Delivery is unknown", message.Error, StringComparison.Ordinal);
        Assert.Equal(0, await QueuedReplies.SettledInboxCountAsync(_servers, reply.Customer));
    }

    [Fact]
    public async Task AReplyWhoseAttemptCrashedBeforeTheHandOverIsSentOnceByTheNextAttempt()
    {
        var reply = await QueuedReplies.ArrangeAsync(_app, _servers);
        var store = _app.Services.GetRequiredService<IConversationStore>();
        // The crashed attempt claimed the message and died connecting or logging in: it never reached the hand-over.
        Assert.Equal(ClaimOutcome.Claimed, (await store.ClaimSendAsync(reply.Tenant.CompanyId, reply.ConversationId, reply.MessageId, 1, TimeSpan.FromMinutes(10))).Outcome);

        await _app.SendOutboundAsync(reply.Body);

        var message = await QueuedReplies.MessageAsync(_app, reply);
        Assert.Equal(MessageStatus.Sent, message.Status);
        Assert.Equal(1, await QueuedReplies.SettledInboxCountAsync(_servers, reply.Customer));
    }

    [Fact]
    public async Task AConnectionLostAfterTheMessageDataIsFailedAsUnknownAndNotRetried()
    {
        await using var server = new DataDroppingSmtpServer(_servers.CertificateFile);
        var reply = await QueuedReplies.ArrangeAsync(_app, _servers, mailbox => new
        {
            address = mailbox.Address,
            password = mailbox.Password,
            incoming = new { protocol = "imap", host = "127.0.0.1", port = _servers.ImapsPort, ssl = true },
            outgoing = new { host = "127.0.0.1", port = server.Port, ssl = true },
        });

        await _app.SendOutboundAsync(reply.Body);
        await _app.SendOutboundAsync(reply.Body);

        var message = await QueuedReplies.MessageAsync(_app, reply);
        Assert.Equal(MessageStatus.Failed, message.Status);
        Assert.Contains("Delivery is unknown", message.Error, StringComparison.Ordinal);
        Assert.Equal(1, server.Messages);
    }
}
