using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Meta;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>WhatsApp Cloud API events: every message type becomes the customer's message, media is fetched and kept, statuses move forward only.</summary>
public sealed class WhatsAppInboundTests(MetaFixture meta, AzuriteFixture azurite) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private const int MediaLimit = 64 * 1024;

    private readonly MetaInboundApp _meta = new(meta, azurite, new Dictionary<string, string?> { ["Omni:Meta:MaxMediaBytes"] = MediaLimit.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _meta.DisposeAsync();

    [Fact]
    public async Task EveryMessageTypeBecomesAMessageInTheContactsOneConversation()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var image = _meta.Meta.AddMedia(channel.Number!, [0xFF, 0xD8, 0xFF, 1, 2, 3], "image/jpeg");
        var audio = _meta.Meta.AddMedia(channel.Number!, [0x4F, 0x67, 0x67, 0x53], "audio/ogg; codecs=opus");
        var video = _meta.Meta.AddMedia(channel.Number!, [0, 0, 0, 0x18, 0x66, 0x74], "video/mp4");
        var document = _meta.Meta.AddMedia(channel.Number!, "%PDF-1.7"u8.ToArray(), "application/pdf");
        var sticker = _meta.Meta.AddMedia(channel.Number!, "RIFF0000WEBP"u8.ToArray(), "image/webp");
        string[] messages =
        [
            MetaEvents.Text("wamid.t1", MetaEvents.Escape("Bom dia, preciso de ajuda")),
            MetaEvents.Message("wamid.i1", "image", $"{{\"caption\":\"Foto do produto\",\"mime_type\":\"image/jpeg\",\"sha256\":\"x\",\"id\":\"{image}\"}}"),
            MetaEvents.Message("wamid.a1", "audio", $"{{\"mime_type\":\"audio/ogg; codecs=opus\",\"sha256\":\"x\",\"id\":\"{audio}\",\"voice\":true}}"),
            MetaEvents.Message("wamid.v1", "video", $"{{\"mime_type\":\"video/mp4\",\"sha256\":\"x\",\"id\":\"{video}\"}}"),
            MetaEvents.Message("wamid.d1", "document", $"{{\"caption\":\"Nota fiscal\",\"filename\":\"nota-4711.pdf\",\"mime_type\":\"application/pdf\",\"sha256\":\"x\",\"id\":\"{document}\"}}"),
            MetaEvents.Message("wamid.s1", "sticker", $"{{\"mime_type\":\"image/webp\",\"sha256\":\"x\",\"id\":\"{sticker}\",\"animated\":false}}"),
            MetaEvents.Message("wamid.l1", "location", "{\"latitude\":-23.5613,\"longitude\":-46.6565,\"name\":\"Loja Paulista\",\"address\":\"Av. Paulista, 1000\"}"),
            MetaEvents.Message("wamid.c1", "contacts", "[{\"name\":{\"formatted_name\":\"Maria Souza\",\"first_name\":\"Maria\"},\"phones\":[{\"phone\":\"+55 11 97777-6666\",\"wa_id\":\"5511977776666\",\"type\":\"CELL\"}]}]"),
            MetaEvents.Message("wamid.b1", "interactive", "{\"type\":\"button_reply\",\"button_reply\":{\"id\":\"track-order\",\"title\":\"Rastrear pedido\"}}"),
            MetaEvents.Message("wamid.li1", "interactive", "{\"type\":\"list_reply\",\"list_reply\":{\"id\":\"exchange\",\"title\":\"Troca\",\"description\":\"Trocar um produto\"}}"),
            MetaEvents.Message("wamid.tb1", "button", "{\"payload\":\"CONFIRM_DELIVERY\",\"text\":\"Confirmar entrega\"}"),
            MetaEvents.Message("wamid.r1", "reaction", $"{{\"message_id\":\"wamid.t1\",\"emoji\":\"{MetaEvents.Escape("👍")}\"}}"),
        ];

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, string.Join(',', messages)));

        var conversations = await _meta.ConversationsAsync(channel);
        var all = await _meta.AllMessagesAsync(channel);
        conversations = await _meta.ConversationsAsync(channel);
        var conversation = Assert.Single(conversations);
        Assert.Equal("+5511988887777", conversation["contact"]!["externalId"]!.GetValue<string>());
        Assert.Equal("João", conversation["contact"]!["name"]!.GetValue<string>());
        var byId = all.ToDictionary(m => m["externalId"]!.GetValue<string>());
        Assert.Equal(messages.Length, byId.Count);
        Assert.All(all, m => Assert.Equal("inbound", m["direction"]!.GetValue<string>()));
        Assert.Equal("Bom dia, preciso de ajuda", Text(byId["wamid.t1"]));
        Assert.Equal("Foto do produto", Text(byId["wamid.i1"]));
        AssertAttachment(byId["wamid.i1"], "image.jpg", "image/jpeg", 6);
        AssertAttachment(byId["wamid.a1"], "audio.ogg", "audio/ogg; codecs=opus", 4);
        AssertAttachment(byId["wamid.v1"], "video.mp4", "video/mp4", 6);
        AssertAttachment(byId["wamid.d1"], "nota-4711.pdf", "application/pdf", 8);
        Assert.Equal("Nota fiscal", Text(byId["wamid.d1"]));
        AssertAttachment(byId["wamid.s1"], "sticker.webp", "image/webp", 12);
        Assert.Contains("Loja Paulista", Text(byId["wamid.l1"]), StringComparison.Ordinal);
        Assert.Contains("https://www.google.com/maps?q=-23.5613,-46.6565", Text(byId["wamid.l1"]), StringComparison.Ordinal);
        Assert.Equal("-23.5613", Meta(byId["wamid.l1"], "latitude"));
        Assert.Equal("Maria Souza +55 11 97777-6666", Text(byId["wamid.c1"]));
        Assert.Equal("Rastrear pedido", Text(byId["wamid.b1"]));
        Assert.Equal("track-order", Meta(byId["wamid.b1"], "replyId"));
        Assert.Equal("Troca", Text(byId["wamid.li1"]));
        Assert.Equal("exchange", Meta(byId["wamid.li1"], "replyId"));
        Assert.Equal("Confirmar entrega", Text(byId["wamid.tb1"]));
        Assert.Equal("CONFIRM_DELIVERY", Meta(byId["wamid.tb1"], "payload"));
        Assert.Equal("👍", Text(byId["wamid.r1"]));
        Assert.Equal("wamid.t1", Meta(byId["wamid.r1"], "reactionTo"));
        Assert.All(byId, p => Assert.Equal(p.Key switch
        {
            "wamid.t1" => "text", "wamid.i1" => "image", "wamid.a1" => "audio", "wamid.v1" => "video", "wamid.d1" => "document", "wamid.s1" => "sticker",
            "wamid.l1" => "location", "wamid.c1" => "contacts", "wamid.b1" or "wamid.li1" => "interactive", "wamid.tb1" => "button", _ => "reaction",
        }, Meta(p.Value, "type")));
    }

    [Fact]
    public async Task MediaIsFetchedThroughItsIdWithTheNumbersTokenAndKeptAsTheAttachment()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var bytes = new byte[40_000];
        Random.Shared.NextBytes(bytes);
        var mediaId = _meta.Meta.AddMedia(channel.Number!, bytes, "image/png");

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Message("wamid.png", "image", $"{{\"mime_type\":\"image/png\",\"sha256\":\"x\",\"id\":\"{mediaId}\"}}")));

        var message = Assert.Single(await _meta.AllMessagesAsync(channel));
        AssertAttachment(message, "image.png", "image/png", bytes.Length);
        var stored = await StoredBytesAsync(channel, message);
        Assert.Equal(bytes, stored);
        var calls = _meta.Meta.Requests.Where(r => r.Path.Contains(mediaId, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, calls.Count);
        Assert.All(calls, c => Assert.Equal(channel.Number!.AccessToken, c.Token));
        Assert.All(calls, c => Assert.Equal(200, c.Status));
    }

    [Fact]
    public async Task MediaOverTheLimitIsRecordedOnItsMessageAndTheRestOfTheEventIsStored()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var mediaId = _meta.Meta.AddMedia(channel.Number!, new byte[MediaLimit + 1], "video/mp4");

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel,
            MetaEvents.Message("wamid.huge", "video", $"{{\"caption\":\"Olha isso\",\"mime_type\":\"video/mp4\",\"sha256\":\"x\",\"id\":\"{mediaId}\"}}")
            + "," + MetaEvents.Text("wamid.after", "e depois")));

        var messages = await _meta.AllMessagesAsync(channel);
        var huge = messages.Single(m => m["externalId"]!.GetValue<string>() == "wamid.huge");
        Assert.Equal("Olha isso", Text(huge));
        Assert.Empty(huge["attachments"]!.AsArray());
        Assert.Contains($"{MediaLimit + 1} bytes", Meta(huge, "mediaError"), StringComparison.Ordinal);
        Assert.Equal(mediaId, Meta(huge, "mediaId"));
        Assert.Contains(messages, m => Text(m) == "e depois");
        Assert.DoesNotContain(_meta.Meta.Requests, r => r.Path.Contains("attachments/" + mediaId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task MediaMetaWillNotHandOverYetIsFetchedAgainLater()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var mediaId = _meta.Meta.AddMedia(channel.Number!, [1, 2, 3, 4], "image/jpeg");
        _meta.Meta.FailNext(c => c.Segments is [var id] && id == mediaId, MetaResponse.Error(503, 2, "Service temporarily unavailable", "OAuthException"));

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Message("wamid.later", "image", $"{{\"mime_type\":\"image/jpeg\",\"id\":\"{mediaId}\"}}")));

        var message = Assert.Single(await _meta.AllMessagesAsync(channel));
        AssertAttachment(message, "image.jpg", "image/jpeg", 4);
        Assert.Contains(_meta.Meta.Requests, r => r.Status == 503);
    }

    [Fact]
    public async Task BrazilianMobileNumbersWithAndWithoutTheNinthDigitAreOneContact()
    {
        var channel = await _meta.WhatsAppChannelAsync();

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.old", "sem o nove", from: "551188887777"), waId: "551188887777"));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.new", "com o nove", from: "5511988887777"), waId: "5511988887777"));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.landline", "fixo", from: "551133334444"), waId: "551133334444"));

        var messages = await _meta.AllMessagesAsync(channel);
        var conversations = await _meta.ConversationsAsync(channel);
        Assert.Equal(3, messages.Count);
        Assert.Equal(2, conversations.Count);
        var mobile = conversations.Single(c => c["contact"]!["externalId"]!.GetValue<string>() == "+5511988887777");
        // The two events are processed from the queue in either order: what matters is that both are this one contact's.
        Assert.Equal(["com o nove", "sem o nove"], (await _meta.MessagesAsync(channel, mobile["id"]!.GetValue<string>())).Select(Text).Order());
        Assert.Contains(conversations, c => c["contact"]!["externalId"]!.GetValue<string>() == "+551133334444");
    }

    [Fact]
    public async Task StatusesMoveTheDeliveryStatusForwardAndNeverBack()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var (conversation, inOrder) = await SentMessageAsync(channel, "wamid.out-in-order");
        var (_, outOfOrder) = await SentMessageAsync(channel, "wamid.out-of-order", conversation);

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.out-in-order", "sent")));
        await _meta.DrainAsync();
        Assert.Equal("sent", await DeliveryAsync(channel, inOrder));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.out-in-order", "delivered")));
        await _meta.DrainAsync();
        Assert.Equal("delivered", await DeliveryAsync(channel, inOrder));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.out-in-order", "read")));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.out-of-order", "read")));
        await _meta.DrainAsync();
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.out-of-order", "delivered") + "," + MetaEvents.Status("wamid.out-of-order", "sent")));
        await _meta.DrainAsync();

        Assert.Equal("read", await DeliveryAsync(channel, inOrder));
        Assert.Equal("read", await DeliveryAsync(channel, outOfOrder));
        var listed = (await _meta.MessagesAsync(channel, conversation.Id)).Single(m => m["id"]!.GetValue<string>() == outOfOrder.Id);
        Assert.Equal("read", listed["deliveryStatus"]!.GetValue<string>());
        Assert.Null(listed["deliveryError"]);
    }

    [Fact]
    public async Task AFailedStatusKeepsMetasCodeAndTitle()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var (conversation, sent) = await SentMessageAsync(channel, "wamid.out-failed");

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.out-failed", "sent")
            + "," + MetaEvents.Status("wamid.out-failed", "failed", "[{\"code\":131026,\"title\":\"Message undeliverable\",\"message\":\"Message undeliverable\",\"error_data\":{\"details\":\"Message Undeliverable.\"}}]")));
        await _meta.DrainAsync();

        var listed = (await _meta.MessagesAsync(channel, conversation.Id)).Single(m => m["id"]!.GetValue<string>() == sent.Id);
        Assert.Equal("failed", listed["deliveryStatus"]!.GetValue<string>());
        Assert.Equal(131026, listed["deliveryError"]!["code"]!.GetValue<int>());
        Assert.Equal("Message undeliverable", listed["deliveryError"]!["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task AStatusForAMessageTheAppDidNotSendIsIgnoredAndTheEventGoesOn()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var (_, sent) = await SentMessageAsync(channel, "wamid.known");

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status("wamid.unknown", "read") + "," + MetaEvents.Status("wamid.known", "delivered")));
        await _meta.DrainAsync();

        Assert.Equal("delivered", await DeliveryAsync(channel, sent));
        Assert.Equal(0, await PoisonedAsync());
    }

    /// <summary>An outbound message as the sending side leaves it: stored, sent, and its wamid in the index.</summary>
    private async Task<(Conversation Conversation, Message Message)> SentMessageAsync(TestMetaChannel channel, string wamid, Conversation? conversation = null)
    {
        if (conversation is null)
        {
            var appended = await _meta.Store.AppendInboundAsync(new InboundMessage(channel.Tenant.CompanyId, channel.ChannelId, "wamid.in-" + wamid, new ContactInfo("+5511988887777"), "oi"));
            conversation = (await _meta.Store.GetConversationAsync(channel.Tenant.CompanyId, appended.Message.ConversationId))!;
        }

        var message = await _meta.Store.AppendOutboundAsync(conversation, "Seu pedido saiu para entrega", null, []);
        await _meta.Store.SetStatusAsync(channel.Tenant.CompanyId, conversation.Id, message.Id, MessageStatus.Sent, null);
        await _meta.App.Services.GetRequiredService<MetaMessageIndex>().RecordAsync(channel.ChannelId, wamid, new MetaMessageRef(channel.Tenant.CompanyId, conversation.Id, message.Id));
        return (conversation, message);
    }

    private async Task<string?> DeliveryAsync(TestMetaChannel channel, Message message) =>
        (await _meta.Store.GetMessageAsync(channel.Tenant.CompanyId, message.ConversationId, message.Id))!.Delivery?.Status.ToString().ToLowerInvariant();

    private async Task<int> PoisonedAsync()
    {
        var poison = _meta.App.Services.GetRequiredService<Azure.Storage.Queues.QueueServiceClient>().GetQueueClient(_meta.QueueName + "-poison");
        return await poison.ExistsAsync() ? (await poison.GetPropertiesAsync()).Value.ApproximateMessagesCount : 0;
    }

    private async Task<byte[]> StoredBytesAsync(TestMetaChannel channel, JsonObject message)
    {
        var stored = (await _meta.Store.GetMessageAsync(channel.Tenant.CompanyId, message["conversationId"]!.GetValue<string>(), message["id"]!.GetValue<string>()))!;
        var content = await _meta.App.Services.GetRequiredService<AttachmentStore>().DownloadAsync(Assert.Single(stored.Attachments));
        return content!.ToArray();
    }

    private static string? Text(JsonObject message) => message["text"]?.GetValue<string>();

    private static string? Meta(JsonObject message, string key) => message["metadata"]?[key]?.GetValue<string>();

    private static void AssertAttachment(JsonObject message, string fileName, string contentType, long size)
    {
        var attachment = Assert.Single(message["attachments"]!.AsArray())!;
        Assert.Equal(fileName, attachment["fileName"]!.GetValue<string>());
        Assert.Equal(contentType, attachment["contentType"]!.GetValue<string>());
        Assert.Equal(size, attachment["size"]!.GetValue<long>());
    }
}
