using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using Omni.Conversations;
using Omni.Email;
using Omni.Tests.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>A Graph reply whose earlier attempt crashed mid-send is looked up in Sent Items before it is sent again.</summary>
public sealed class MicrosoftEmailInterruptedSendTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft) : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    // Every claim counts as left by a crash at once: the test plays the crashed worker itself.
    private readonly OmniApp _app = microsoft.CreateApp(azurite, settings: new Dictionary<string, string?> { ["Omni:Conversations:OutboundClaimTimeout"] = "00:00:00" });

    private FakeMicrosoftCloud Cloud => microsoft.Cloud;

    private IConversationStore Store => _app.Services.GetRequiredService<IConversationStore>();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<(GraphMailboxChannel Channel, Message Reply, string Body)> CrashedReplyAsync()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        var customer = "cliente@example.com";
        var inboundId = $"in-{Guid.NewGuid():N}@example.com";
        var inbound = await Store.AppendInboundAsync(new InboundMessage(channel.Tenant.CompanyId, channel.ChannelId, inboundId, new ContactInfo(customer, "Cliente", customer),
            "Onde está meu pedido?", Subject: "Pedido 4711", Mail: new MailHeaders(inboundId, null, [], customer, [channel.Mailbox.Address], null), BodyHash: "h"));
        var conversation = (await Store.GetConversationAsync(channel.Tenant.CompanyId, inbound.Message.ConversationId))!;
        var reply = await Store.AppendOutboundAsync(conversation, "Já enviamos.", null, []);
        // The crashed worker: it claimed the reply and never wrote how the send ended.
        Assert.Equal(ClaimOutcome.Claimed, (await Store.ClaimSendAsync(channel.Tenant.CompanyId, conversation.Id, reply.Id, 1, TimeSpan.FromMinutes(10))).Outcome);
        return (channel, reply, JsonSerializer.Serialize(new OutboundWork(channel.Tenant.CompanyId, conversation.Id, reply.Id), JsonSerializerOptions.Web));
    }

    private IEnumerable<string> Calls(GraphMailboxChannel channel) =>
        Cloud.GraphRequests(channel.Mailbox).Select(r => $"{r.Method} {r.Path.Replace($"/v1.0/users/{channel.Mailbox.Id}/", "", StringComparison.Ordinal)} {r.Status}");

    [Fact]
    public async Task ACrashedSendFoundInSentItemsIsMarkedSentWithoutSendingAgain()
    {
        var (channel, reply, body) = await CrashedReplyAsync();
        var delivered = new MimeMessage { MessageId = MailReplyBuilder.MessageIdOf(reply, channel.Mailbox.Address), Subject = "Re: Pedido 4711" };
        channel.Mailbox.Sent.Enqueue(delivered);

        await _app.SendOutboundAsync(body);

        var message = (await Store.GetMessageAsync(channel.Tenant.CompanyId, reply.ConversationId, reply.Id))!;
        Assert.Equal(MessageStatus.Sent, message.Status);
        Assert.Equal(delivered.MessageId, message.Mail?.MessageId);
        Assert.Single(channel.Mailbox.Sent);
        Assert.Equal(["GET mailFolders/sentitems/messages 200"], Calls(channel));
    }

    [Fact]
    public async Task ACrashedSendMissingFromSentItemsIsSentOnceAfterTheLookUp()
    {
        var (channel, reply, body) = await CrashedReplyAsync();

        await _app.SendOutboundAsync(body);
        await _app.SendOutboundAsync(body);

        var message = (await Store.GetMessageAsync(channel.Tenant.CompanyId, reply.ConversationId, reply.Id))!;
        Assert.Equal(MessageStatus.Sent, message.Status);
        Assert.Equal(MailReplyBuilder.MessageIdOf(reply, channel.Mailbox.Address), Assert.Single(channel.Mailbox.Sent).MessageId);
        Assert.Equal(["GET mailFolders/sentitems/messages 200", "POST sendMail 202"], Calls(channel));
    }
}
