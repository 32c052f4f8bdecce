using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>Both directions together, as a tenant sees them: the customer writes through Meta's webhook, an agent answers, Meta reports.</summary>
public sealed class WhatsAppConversationTests(MetaFixture meta, AzuriteFixture azurite) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private readonly MetaInboundApp _meta = new(meta, azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _meta.DisposeAsync();

    [Fact]
    public async Task ACustomerWithAnOldBrazilianNumberWritesAnAgentAnswersToThatNumberAndMetasStatusesReachTheAnswer()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        // WhatsApp names many older accounts without the mobile ninth digit; the contact key gains it, the reply must not.
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.in1", MetaEvents.Escape("Olá, meu pedido não chegou"), from: "551188887777"), waId: "551188887777"));
        await _meta.DrainAsync();
        var conversation = Assert.Single(await _meta.ConversationsAsync(channel));
        var conversationId = conversation["id"]!.GetValue<string>();

        var posted = await _meta.App.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text = "Já verificamos, chega amanhã 🚚" });
        var messageId = (await Arrange.ReadAsync(posted, HttpStatusCode.Accepted))["messageId"]!.GetValue<string>();
        var sent = await Eventually.ValueAsync(() => Task.FromResult(_meta.Meta.SentBy(channel.Number!.Id).SingleOrDefault()), "the answer reaching Meta");
        Assert.Equal(("text", "551188887777"), (sent.Type, sent.To));
        Assert.Equal("Já verificamos, chega amanhã 🚚", sent.Body["text"]!["body"]!.GetValue<string>());

        // Meta reports the answer read, then (late) delivered: it stays read.
        await Eventually.ValueAsync(async () => (await _meta.MessagesAsync(channel, conversationId)).SingleOrDefault(m => m["id"]!.GetValue<string>() == messageId && m["status"]!.GetValue<string>() == "sent"), "the answer marked sent");
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status(sent.Id, "read")));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, statuses: MetaEvents.Status(sent.Id, "delivered")));
        await _meta.DrainAsync();
        var answer = (await _meta.MessagesAsync(channel, conversationId)).Single(m => m["id"]!.GetValue<string>() == messageId);
        Assert.Equal("read", answer["deliveryStatus"]!.GetValue<string>());
    }
}
