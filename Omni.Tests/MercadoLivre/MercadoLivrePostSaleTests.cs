using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MercadoLivre;

/// <summary>Post-sale messages: a pack is a conversation with its buyer; replies go to the pack within 350 characters.</summary>
public sealed class MercadoLivrePostSaleTests(AzuriteFixture azurite, MercadoLivreFixture ml) : IClassFixture<MercadoLivreFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = ml.CreateApp(azurite);

    private FakeMercadoLivre Fake => ml.Fake;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static string NewPack() => "2000" + Random.Shared.NextInt64(100_000_000, 999_999_999);

    [Fact]
    public async Task ABuyersMessagesInAPackBecomeOneConversationAndTheAgentsReplyIsPostedToThePack()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var pack = NewPack();
        var first = Fake.AddBuyerMessage(seller, pack, "444000222", "Quando chega meu pedido?");

        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", first.Id, seller.Id));
        var inbound = await _app.WaitForInboundAsync(channel, $"message:{first.Id}");
        Assert.Equal("Quando chega meu pedido?", inbound.Text);
        Assert.Equal(pack, inbound.Metadata!["packId"]);
        Assert.Equal("clean", inbound.Metadata["moderationStatus"]);
        Assert.Contains(Fake.Requests, r => r.Method == "GET" && r.Path == $"/messages/packs/{pack}/sellers/{seller.Id}"
            && r.Query.Contains("tag=post_sale", StringComparison.Ordinal) && r.Query.Contains("mark_as_read=false", StringComparison.Ordinal));

        var accepted = await Arrange.ReadAsync(await _app.ReplyAsync(channel, inbound.ConversationId, "Chega amanhã."), HttpStatusCode.Accepted);
        var sent = await _app.WaitForStatusAsync(channel, inbound.ConversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        var posted = Assert.Single(Fake.Requests, r => r.Method == "POST" && r.Path == $"/messages/packs/{pack}/sellers/{seller.Id}");
        Assert.Contains("tag=post_sale", posted.Query, StringComparison.Ordinal);
        Assert.Equal(new JsonObject
        {
            ["from"] = new JsonObject { ["user_id"] = long.Parse(seller.Id, System.Globalization.CultureInfo.InvariantCulture) },
            ["to"] = new JsonObject { ["user_id"] = 444000222 },
            ["text"] = "Chega amanhã.",
        }.ToJsonString(), JsonNode.Parse(posted.Body)!.ToJsonString());
        Assert.Equal(Fake.Packs[pack].Last().Id, sent.ProviderMessageId);

        // The buyer writes again: the seller's own message in the pack is not stored as inbound, the new one joins.
        var second = Fake.AddBuyerMessage(seller, pack, "444000222", "Obrigado!");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", $"/messages/packs/{pack}/sellers/{seller.Id}", seller.Id));
        var again = await _app.WaitForInboundAsync(channel, $"message:{second.Id}");
        Assert.Equal(inbound.ConversationId, again.ConversationId);
        Assert.Equal(2, (await _app.InboundAsync(channel)).Count);
    }

    [Fact]
    public async Task ModerationAndABlockedConversationAreShownOnTheMessage()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var pack = NewPack();
        Fake.PackStatus[pack] = "blocked";
        var message = Fake.AddBuyerMessage(seller, pack, "444000333", "meu telefone é ...", moderation: "rejected");

        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", message.Id, seller.Id));
        var inbound = await _app.WaitForInboundAsync(channel, $"message:{message.Id}");

        Assert.Equal(("rejected", "blocked"), (inbound.Metadata!["moderationStatus"], inbound.Metadata["conversationStatus"]));
    }

    [Fact]
    public async Task APostSaleReplyOver350CharactersIsRefusedWith422NamingTheLimit()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var pack = NewPack();
        var message = Fake.AddBuyerMessage(seller, pack, "444000444", "Oi");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", message.Id, seller.Id));
        var inbound = await _app.WaitForInboundAsync(channel, $"message:{message.Id}");

        var problem = await Arrange.ReadAsync(await _app.ReplyAsync(channel, inbound.ConversationId, new string('x', 351)), HttpStatusCode.UnprocessableEntity);

        Assert.Contains("350 characters", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain(Fake.Requests, r => r.Method == "POST" && r.Path.StartsWith($"/messages/packs/{pack}", StringComparison.Ordinal));
        var exact = await Arrange.ReadAsync(await _app.ReplyAsync(channel, inbound.ConversationId, new string('y', 350)), HttpStatusCode.Accepted);
        await _app.WaitForStatusAsync(channel, inbound.ConversationId, exact["messageId"]!.GetValue<string>(), MessageStatus.Sent);
    }

    [Fact]
    public async Task ABuyersAttachmentIsDownloadedWithTheSellersTokenAndStoredWithItsMessageOnce()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var pack = NewPack();
        var photo = new FakeFile("defeito.png", "image/png", [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4]);
        var message = Fake.AddBuyerMessage(seller, pack, "444000555", "Chegou assim:", files: photo);
        var fileId = Assert.Single(message.Files);

        foreach (var _ in new[] { 1, 2 })
        {
            await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", message.Id, seller.Id));
        }

        var inbound = await _app.WaitForInboundAsync(channel, $"message:{message.Id}");
        var stored = Assert.Single(inbound.Attachments);
        Assert.Equal(("defeito.png", "image/png", 8L), (stored.FileName, stored.ContentType, stored.Size));
        var bytes = await _app.Services.GetRequiredService<AttachmentStore>().DownloadAsync(stored);
        Assert.Equal(photo.Content, bytes!.ToArray());
        await Eventually.HoldsAsync(() => Task.FromResult(Fake.Requests.Count(r => r.Method == "GET" && r.Path == $"/messages/packs/{pack}/sellers/{seller.Id}") == 2), "both notifications are read");
        var later = Fake.AddBuyerMessage(seller, pack, "444000555", "E agora?");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", later.Id, seller.Id));
        await _app.WaitForInboundAsync(channel, $"message:{later.Id}");

        var download = Assert.Single(Fake.Requests, r => r.Path == $"/messages/attachments/{fileId}");
        Assert.Contains("tag=post_sale", download.Query, StringComparison.Ordinal);
        Assert.StartsWith("APP_USR-", download.Token, StringComparison.Ordinal);
        Assert.Single(await _app.InboundAsync(channel), m => m.ExternalId == $"message:{message.Id}");
    }

    [Fact]
    public async Task AnAgentsReplyWithAFileIsUploadedOnceAndSentReferencingItEvenWhenTheSendIsTriedAgain()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var pack = NewPack();
        var first = Fake.AddBuyerMessage(seller, pack, "444000666", "Manda a nota?");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("messages", first.Id, seller.Id));
        var inbound = await _app.WaitForInboundAsync(channel, $"message:{first.Id}");
        // The message itself fails once after the upload: the retry must reuse the uploaded file.
        Fake.FailNext(r => r.Method == "POST" && r.Path == $"/messages/packs/{pack}/sellers/{seller.Id}", 500, new JsonObject { ["message"] = "boom", ["error"] = "internal_error", ["status"] = 500 });

        var content = "nota fiscal"u8.ToArray();
        var reply = await _app.As(channel.Tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{inbound.ConversationId}/messages",
            new { text = "Segue a nota.", attachments = new[] { new { fileName = "nota.pdf", contentType = "application/pdf", contentBase64 = Convert.ToBase64String(content) } } });
        var accepted = await Arrange.ReadAsync(reply, HttpStatusCode.Accepted);
        await _app.WaitForStatusAsync(channel, inbound.ConversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        var upload = Assert.Single(Fake.Requests, r => r.Method == "POST" && r.Path == "/messages/attachments");
        Assert.Contains("tag=post_sale", upload.Query, StringComparison.Ordinal);
        var posts = Fake.Requests.Where(r => r.Method == "POST" && r.Path == $"/messages/packs/{pack}/sellers/{seller.Id}").ToList();
        Assert.Equal([500, 201], posts.Select(p => p.Status));
        var sent = Fake.Packs[pack].Single(m => m.FromUserId == seller.Id);
        var fileId = Assert.Single(sent.Files);
        Assert.Equal(("nota.pdf", "application/pdf"), (Fake.Files[fileId].OriginalName, Fake.Files[fileId].ContentType));
        Assert.Equal(content, Fake.Files[fileId].Content);
        Assert.All(posts, p => Assert.Equal(fileId, JsonNode.Parse(p.Body)!["attachments"]![0]!.GetValue<string>()));
    }
}
