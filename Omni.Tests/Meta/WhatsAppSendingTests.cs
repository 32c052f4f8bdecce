using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Meta;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>An agent's messages on WhatsApp: through the Cloud API, within the 24-hour window, Meta's errors kept.</summary>
public sealed class WhatsAppSendingTests(AzuriteFixture azurite, MetaFixture meta) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private static readonly TimeSpan AnHourAgo = TimeSpan.FromHours(1);

    private readonly OmniApp _app = meta.CreateApp(azurite, settings: MetaArrange.SendingSettings());

    private FakeMeta Meta => meta.Meta;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<(MetaChannel Channel, Conversation Conversation)> ConversationAsync(TimeSpan? customerWrote = null)
    {
        var channel = await _app.WhatsAppChannelAsync(Meta.AddPhoneNumber());
        return (channel, await _app.CustomerWroteAsync(channel, "5511912345678", customerWrote ?? AnHourAgo));
    }

    [Fact]
    public async Task AnAgentsTextReachesMetaInTheDocumentedShapeAndItsWamidIsKept()
    {
        var (channel, conversation) = await ConversationAsync();

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Seu pedido saiu para entrega.");
        var sent = await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Sent);

        var posted = Assert.Single(Meta.SentBy(channel.SenderId));
        Assert.Equal(
            new JsonObject
            {
                ["messaging_product"] = "whatsapp",
                ["recipient_type"] = "individual",
                ["to"] = "5511912345678",
                ["type"] = "text",
                ["text"] = new JsonObject { ["preview_url"] = false, ["body"] = "Seu pedido saiu para entrega." },
            }.ToJsonString(), posted.Body.ToJsonString());
        Assert.Equal(posted.Id, sent.ProviderMessageId);
        var indexed = await _app.Services.GetRequiredService<MetaMessageIndex>().FindAsync(channel.ChannelId, posted.Id);
        Assert.Equal(new MetaMessageRef(channel.Tenant.CompanyId, conversation.Id, messageId), indexed);
    }

    [Fact]
    public async Task AnAttachmentIsUploadedThenSentByItsMediaIdWithTheTextAsItsCaption()
    {
        var (channel, conversation) = await ConversationAsync();
        var pdf = "%PDF-1.4 boleto"u8.ToArray();

        var accepted = await Arrange.ReadAsync(await _app.PostMessageAsync(channel, conversation.Id, new
        {
            text = "Segue o boleto.",
            attachments = new[] { new { fileName = "boleto.pdf", contentType = "application/pdf", contentBase64 = Convert.ToBase64String(pdf) } },
        }), HttpStatusCode.Accepted);
        await _app.WaitForAsync(channel, conversation.Id, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        var media = Assert.Single(Meta.Uploaded.Values, m => m.PhoneNumberId == channel.SenderId);
        Assert.Equal(("boleto.pdf", "application/pdf"), (media.FileName, media.ContentType));
        Assert.Equal(pdf, media.Bytes);
        var posted = Assert.Single(Meta.SentBy(channel.SenderId));
        Assert.Equal("document", posted.Type);
        Assert.Equal(new JsonObject { ["id"] = media.Id, ["filename"] = "boleto.pdf", ["caption"] = "Segue o boleto." }.ToJsonString(), posted.Body["document"]!.ToJsonString());
    }

    [Fact]
    public async Task AnAudioGoesAfterTheTextAsItsOwnMessageForAudioTakesNoCaption()
    {
        var (channel, conversation) = await ConversationAsync();

        var accepted = await Arrange.ReadAsync(await _app.PostMessageAsync(channel, conversation.Id, new
        {
            text = "Ouça:",
            attachments = new[] { new { fileName = "nota.ogg", contentType = "audio/ogg", contentBase64 = Convert.ToBase64String("OggS"u8.ToArray()) } },
        }), HttpStatusCode.Accepted);
        var sent = await _app.WaitForAsync(channel, conversation.Id, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        var posted = Meta.SentBy(channel.SenderId);
        Assert.Equal(["text", "audio"], posted.Select(p => p.Type));
        Assert.Equal(posted[0].Id, sent.ProviderMessageId);
        var index = _app.Services.GetRequiredService<MetaMessageIndex>();
        foreach (var p in posted)
        {
            Assert.Equal(sent.Id, (await index.FindAsync(channel.ChannelId, p.Id))?.MessageId);
        }
    }

    [Fact]
    public async Task AMessageMoreThan24HoursAfterTheCustomersLastIsRefusedWithA422SayingToSendATemplate()
    {
        var (channel, conversation) = await ConversationAsync(customerWrote: TimeSpan.FromHours(25));

        var response = await _app.PostMessageAsync(channel, conversation.Id, new { text = "Ainda precisa de ajuda?" });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("24 hours", problem["detail"]!.GetValue<string>());
        Assert.Contains("template", problem["detail"]!.GetValue<string>());
        var history = await _app.Services.GetRequiredService<IConversationStore>().ListMessagesAsync(channel.Tenant.CompanyId, conversation.Id, 10, null);
        Assert.Single(history.Items);
        Assert.Empty(Meta.SentBy(channel.SenderId));
    }

    [Theory]
    [InlineData(131047, "Re-engagement message", "template")]
    [InlineData(131026, "Message undeliverable", "could not deliver")]
    public async Task AMessageMetaRefusesFailsWithMetasCodeAndWhatToDo(int code, string title, string advice)
    {
        // 131047: the window closed between the agent's send and the queue's run.
        var (channel, conversation) = await ConversationAsync();
        Meta.FailNext(c => c.Segments is [var id, "messages"] && id == channel.SenderId, MetaResponse.Error(400, code, title, "OAuthException"));

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Oi");
        var failed = await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Failed);

        Assert.Contains(code.ToString(System.Globalization.CultureInfo.InvariantCulture), failed.Error);
        Assert.Contains(advice, failed.Error);
        Assert.Empty(Meta.SentBy(channel.SenderId));
    }

    [Fact]
    public async Task AMessageQueuedAfterTheWindowClosedFailsWithoutCallingMeta()
    {
        // Stored as the agent's 202 left it, but the queue runs only after the 24 hours are over.
        var (channel, conversation) = await ConversationAsync(customerWrote: TimeSpan.FromHours(25));
        var message = await _app.Services.GetRequiredService<IConversationStore>().AppendOutboundAsync(conversation, "Tarde demais", null, []);
        using var scope = _app.Services.CreateScope();

        await scope.ServiceProvider.GetRequiredService<OutboundSender>().HandleAsync(
            System.Text.Json.JsonSerializer.Serialize(new OutboundWork(channel.Tenant.CompanyId, conversation.Id, message.Id), ConversationJsonContext.Default.OutboundWork));
        var failed = await _app.WaitForAsync(channel, conversation.Id, message.Id, MessageStatus.Failed);

        Assert.Contains("24 hours", failed.Error);
        Assert.DoesNotContain(Meta.Requests, r => r.Path.Contains(channel.SenderId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AMetaServerErrorIsRetriedUntilSent()
    {
        var (channel, conversation) = await ConversationAsync();
        Meta.FailNext(c => c.Segments is [var id, "messages"] && id == channel.SenderId, MetaResponse.Error(500, 2, "Service temporarily unavailable", "OAuthException"));

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Oi");
        await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Sent);

        Assert.Single(Meta.SentBy(channel.SenderId));
    }

    [Theory]
    [InlineData(130429)]
    [InlineData(131056)]
    public async Task AThrottledSendIsRetriedLaterAndThenGoesOutOnce(int code)
    {
        var (channel, conversation) = await ConversationAsync();
        Meta.FailNext(c => c.Segments is [var id, "messages"] && id == channel.SenderId,
            MetaResponse.Error(400, code, "Rate limit hit", "OAuthException"));

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Oi");
        await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Sent);

        Assert.Single(Meta.SentBy(channel.SenderId));
        var calls = Meta.Requests.Where(r => r.Path == $"/{FakeMeta.Version}/{channel.SenderId}/messages").ToList();
        Assert.Equal([400, 200], calls.Select(c => c.Status));
    }

    [Fact]
    public async Task AnExpiredTokenFailsTheMessageAndTheSettingsTestSaysSo()
    {
        var number = Meta.AddPhoneNumber();
        var channel = await _app.WhatsAppChannelAsync(number);
        var conversation = await _app.CustomerWroteAsync(channel, "5511912345678", AnHourAgo);
        number.TokenRevoked = true;

        var messageId = await _app.SendTextAsync(channel, conversation.Id, "Oi");
        var failed = await _app.WaitForAsync(channel, conversation.Id, messageId, MessageStatus.Failed);
        var test = await _app.TestChannelAsync(channel);

        Assert.Contains("190", failed.Error);
        Assert.Contains("accessToken", failed.Error);
        Assert.DoesNotContain(number.AccessToken, failed.Error);
        Assert.False(test["ok"]!.GetValue<bool>());
        Assert.Contains("token is invalid or expired (190", test["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task AQueueMessageDeliveredTwiceAtOnceSendsOnce()
    {
        var (channel, conversation) = await ConversationAsync();
        // Stored as an agent's message is, and handed to two workers at once, as a redelivered queue message can be.
        var message = await _app.Services.GetRequiredService<IConversationStore>().AppendOutboundAsync(conversation, "Uma vez só", null, []);
        var work = System.Text.Json.JsonSerializer.Serialize(new OutboundWork(channel.Tenant.CompanyId, conversation.Id, message.Id), ConversationJsonContext.Default.OutboundWork);
        using var first = _app.Services.CreateScope();
        using var second = _app.Services.CreateScope();

        await Task.WhenAll(first.ServiceProvider.GetRequiredService<OutboundSender>().HandleAsync(work), second.ServiceProvider.GetRequiredService<OutboundSender>().HandleAsync(work));
        await _app.WaitForAsync(channel, conversation.Id, message.Id, MessageStatus.Sent);
        using var third = _app.Services.CreateScope();
        await third.ServiceProvider.GetRequiredService<OutboundSender>().HandleAsync(work);

        Assert.Single(Meta.SentBy(channel.SenderId));
    }
}
