using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Meta;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>An agent's messages on Instagram: a response within 24 hours, tagged HUMAN_AGENT up to 7 days, refused later.</summary>
public sealed class InstagramSendingTests(AzuriteFixture azurite, MetaFixture meta) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private const string Igsid = "6789012345678901";

    private readonly OmniApp _app = meta.CreateApp(azurite, settings: MetaArrange.SendingSettings());

    private FakeMeta Meta => meta.Meta;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<(MetaChannel Channel, Conversation Conversation)> ConversationAsync(TimeSpan customerWrote)
    {
        var channel = await _app.InstagramChannelAsync(Meta.AddPage());
        return (channel, await _app.CustomerWroteAsync(channel, Igsid, customerWrote));
    }

    [Fact]
    public async Task ATextWithin24HoursGoesToThePageAsAResponseAndItsMessageIdIsKept()
    {
        var (channel, conversation) = await ConversationAsync(TimeSpan.FromHours(2));

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Oi! Como posso ajudar?");
        var sent = await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Sent);

        var posted = Assert.Single(Meta.SentBy(channel.SenderId));
        Assert.Equal(new JsonObject
        {
            ["recipient"] = new JsonObject { ["id"] = Igsid },
            ["message"] = new JsonObject { ["text"] = "Oi! Como posso ajudar?" },
            ["messaging_type"] = "RESPONSE",
        }.ToJsonString(), posted.Body.ToJsonString());
        Assert.Equal(posted.Id, sent.ProviderMessageId);
        Assert.Equal(messageId, (await _app.Services.GetRequiredService<MetaMessageIndex>().FindAsync(channel.ChannelId, posted.Id))?.MessageId);
    }

    [Fact]
    public async Task AReplyBetween24HoursAnd7DaysIsTaggedHumanAgent()
    {
        var (channel, conversation) = await ConversationAsync(TimeSpan.FromDays(3));

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Desculpe a demora.");
        await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Sent);

        var posted = Assert.Single(Meta.SentBy(channel.SenderId));
        Assert.Equal(("MESSAGE_TAG", "HUMAN_AGENT"), (posted.Body["messaging_type"]?.GetValue<string>(), posted.Body["tag"]?.GetValue<string>()));
    }

    [Fact]
    public async Task AReplyAfter7DaysIsRefusedWithA422()
    {
        var (channel, conversation) = await ConversationAsync(TimeSpan.FromDays(8));

        var problem = await Arrange.ReadAsync(await _app.PostMessageAsync(channel, conversation.Id, new { text = "Oi?" }), HttpStatusCode.UnprocessableEntity);

        Assert.Contains("7 days", problem["detail"]!.GetValue<string>());
        Assert.Empty(Meta.SentBy(channel.SenderId));
    }

    [Fact]
    public async Task AnAttachmentIsRefusedWithA422SayingInstagramNeedsAPublicUrl()
    {
        var (channel, conversation) = await ConversationAsync(TimeSpan.FromHours(1));

        var problem = await Arrange.ReadAsync(await _app.PostMessageAsync(channel, conversation.Id, new
        {
            text = "foto",
            attachments = new[] { new { fileName = "a.png", contentType = "image/png", contentBase64 = Convert.ToBase64String([1, 2, 3]) } },
        }), HttpStatusCode.UnprocessableEntity);

        Assert.Contains("public URL", problem["detail"]!.GetValue<string>());
        Assert.Empty(Meta.SentBy(channel.SenderId));
    }
}
