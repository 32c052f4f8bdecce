using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>Instagram messaging events: messages, files, stories as links, postbacks and reactions of the sender's IGSID; echoes not stored again.</summary>
public sealed class InstagramInboundTests(MetaFixture meta, AzuriteFixture azurite) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private const string Igsid = "6543210987654321";

    private readonly MetaInboundApp _meta = new(meta, azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _meta.DisposeAsync();

    [Fact]
    public async Task ATextBecomesAMessageOfTheSendersIgsid()
    {
        var channel = await _meta.InstagramChannelAsync();

        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel,
            MetaEvents.Messaging(channel, Igsid, "message", $"{{\"mid\":\"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx\",\"text\":\"{MetaEvents.Escape("Vocês entregam em Niterói? 🚚")}\"}}")));

        var message = Assert.Single(await _meta.AllMessagesAsync(channel));
        Assert.Equal("Vocês entregam em Niterói? 🚚", message["text"]!.GetValue<string>());
        Assert.Equal("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx", message["externalId"]!.GetValue<string>());
        var conversation = Assert.Single(await _meta.ConversationsAsync(channel));
        Assert.Equal(Igsid, conversation["contact"]!["externalId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnImageTheCustomerSentIsStoredAsAnAttachment()
    {
        var channel = await _meta.InstagramChannelAsync();
        var mediaId = _meta.Meta.AddMedia(channel.Page!, [0x89, 0x50, 0x4E, 0x47, 9, 9], "image/png");
        var url = MetaEvents.Escape(_meta.Meta.MediaUrl(mediaId).ToString());

        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel,
            MetaEvents.Messaging(channel, Igsid, "message", $"{{\"mid\":\"mid.image\",\"attachments\":[{{\"type\":\"image\",\"payload\":{{\"url\":\"{url}\"}}}}]}}")));

        var message = Assert.Single(await _meta.AllMessagesAsync(channel));
        var attachment = Assert.Single(message["attachments"]!.AsArray())!;
        Assert.Equal("image/png", attachment["contentType"]!.GetValue<string>());
        Assert.Equal(6, attachment["size"]!.GetValue<long>());
        Assert.Contains(_meta.Meta.Requests, r => r.Path.EndsWith(mediaId, StringComparison.Ordinal) && r.Status == 200 && r.Token == channel.Page!.AccessToken);
    }

    [Fact]
    public async Task AStoryReplyAndAStoryMentionAreKeptAsLinksNotFetched()
    {
        var channel = await _meta.InstagramChannelAsync();
        var storyUrl = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000001&signature=abc";
        var mentionUrl = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000002&signature=def";

        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel,
            MetaEvents.Messaging(channel, Igsid, "message", $"{{\"mid\":\"mid.story-reply\",\"text\":\"Amei esse!\",\"reply_to\":{{\"story\":{{\"url\":\"{MetaEvents.Escape(storyUrl)}\",\"id\":\"17900000000000001\"}}}}}}"),
            MetaEvents.Messaging(channel, Igsid, "message", $"{{\"mid\":\"mid.mention\",\"attachments\":[{{\"type\":\"story_mention\",\"payload\":{{\"url\":\"{MetaEvents.Escape(mentionUrl)}\"}}}}]}}", 1764590000999)));

        var messages = (await _meta.AllMessagesAsync(channel)).ToDictionary(m => m["externalId"]!.GetValue<string>());
        var reply = messages["mid.story-reply"];
        Assert.Equal("Amei esse!\n" + storyUrl, reply["text"]!.GetValue<string>());
        Assert.Equal("story_reply", reply["metadata"]!["type"]!.GetValue<string>());
        Assert.Equal(storyUrl, reply["metadata"]!["storyUrl"]!.GetValue<string>());
        var mention = messages["mid.mention"];
        Assert.Equal(mentionUrl, mention["text"]!.GetValue<string>());
        Assert.Equal("story_mention", mention["metadata"]!["type"]!.GetValue<string>());
        Assert.All(messages.Values, m => Assert.Empty(m["attachments"]!.AsArray()));
        Assert.DoesNotContain(_meta.Meta.Requests, r => r.Path.Contains("ig_messaging_cdn", StringComparison.Ordinal));
    }

    [Fact]
    public async Task APostbackAndAReactionBecomeMessages()
    {
        var channel = await _meta.InstagramChannelAsync();

        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel,
            MetaEvents.Messaging(channel, Igsid, "postback", "{\"mid\":\"mid.postback\",\"title\":\"Falar com atendente\",\"payload\":\"TALK_TO_AGENT\"}"),
            MetaEvents.Messaging(channel, Igsid, "reaction", $"{{\"mid\":\"mid.ours\",\"action\":\"react\",\"reaction\":\"love\",\"emoji\":\"{MetaEvents.Escape("❤️")}\"}}", 1764590000500)));

        var messages = await _meta.AllMessagesAsync(channel);
        var postback = messages.Single(m => m["metadata"]!["type"]!.GetValue<string>() == "postback");
        Assert.Equal("Falar com atendente", postback["text"]!.GetValue<string>());
        Assert.Equal("TALK_TO_AGENT", postback["metadata"]!["payload"]!.GetValue<string>());
        var reaction = messages.Single(m => m["metadata"]!["type"]!.GetValue<string>() == "reaction");
        Assert.Equal("❤️", reaction["text"]!.GetValue<string>());
        Assert.Equal("mid.ours", reaction["metadata"]!["reactionTo"]!.GetValue<string>());
        Assert.Single(await _meta.ConversationsAsync(channel));
    }

    [Fact]
    public async Task AnEchoIsNotStoredAndAMidDeliveredTwiceIsOneMessage()
    {
        var channel = await _meta.InstagramChannelAsync();
        var echo = $"{{\"sender\":{{\"id\":\"{channel.Page!.InstagramAccountId}\"}},\"recipient\":{{\"id\":\"{Igsid}\"}},\"timestamp\":1764590000100,"
            + "\"message\":{\"mid\":\"mid.echo\",\"text\":\"Resposta do atendente\",\"is_echo\":true}}";
        var customer = MetaEvents.Messaging(channel, Igsid, "message", "{\"mid\":\"mid.once\",\"text\":\"oi\"}");

        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel, echo, customer));
        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel, customer));
        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel, echo));

        var message = Assert.Single(await _meta.AllMessagesAsync(channel));
        Assert.Equal("mid.once", message["externalId"]!.GetValue<string>());
        Assert.Equal(3, await _meta.StoredEventsAsync(channel));
    }

    [Fact]
    public async Task TheInstagramHandshakeUsesTheInstagramChannelsVerifyToken()
    {
        var channel = await _meta.InstagramChannelAsync();

        var ok = await _meta.App.Anonymous().GetAsync($"{channel.Url}?hub.mode=subscribe&hub.challenge=abc123&hub.verify_token={channel.VerifyToken}");
        var forbidden = await _meta.App.Anonymous().GetAsync($"{channel.Url}?hub.mode=subscribe&hub.challenge=abc123&hub.verify_token=whatsapp-verify-token");

        Assert.Equal("abc123", await ok.Content.ReadAsStringAsync());
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, forbidden.StatusCode);
        _ = JsonNode.Parse(await forbidden.Content.ReadAsStringAsync());
    }
}
