using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>WhatsApp templates (HSM): the approved ones listed, one sent to a number outside the window, with or without opening a conversation.</summary>
public sealed class WhatsAppTemplateTests(AzuriteFixture azurite, MetaFixture meta) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private const string Customer = "+5511912345678";

    private readonly OmniApp _app = meta.CreateApp(azurite, settings: MetaArrange.SendingSettings());

    private FakeMeta Meta => meta.Meta;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static object Template(string name = "pedido_enviado") => new
    {
        name,
        language = "pt_BR",
        components = new[] { new { type = "body", parameters = new[] { new { type = "text", text = "Maria" }, new { type = "text", text = "4711" } } } },
    };

    private Task<HttpResponseMessage> SendTemplateAsync(MetaChannel channel, object body, TestTenant? caller = null) =>
        _app.As((caller ?? channel.Tenant).ManagementKey).PostAsJsonAsync($"/api/companies/{(caller ?? channel.Tenant).CompanyId}/channels/{channel.ChannelId}/templates/send", body);

    [Fact]
    public async Task TheAccountsApprovedTemplatesAreListedAcrossGraphsPages()
    {
        var number = Meta.AddPhoneNumber();
        for (var i = 0; i < 105; i++)
        {
            Meta.AddTemplate(number, $"modelo_{i:D3}");
        }

        Meta.AddTemplate(number, "em_analise", status: "PENDING");
        var channel = await _app.WhatsAppChannelAsync(number);

        var listed = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/templates"), HttpStatusCode.OK);

        var items = listed["items"]!.AsArray();
        Assert.Equal(105, items.Count);
        Assert.DoesNotContain(items, t => t!["name"]!.GetValue<string>() == "em_analise");
        Assert.Equal(("modelo_000", "pt_BR", "APPROVED"), (items[0]!["name"]!.GetValue<string>(), items[0]!["language"]!.GetValue<string>(), items[0]!["status"]!.GetValue<string>()));
        Assert.Equal("BODY", items[0]!["components"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task ATemplateThatOpensNoConversationGoesOutAndIsInTheAuditOnly()
    {
        var number = Meta.AddPhoneNumber();
        Meta.AddTemplate(number, "pedido_enviado");
        var channel = await _app.WhatsAppChannelAsync(number, hsmOpensConversation: false);

        var accepted = await Arrange.ReadAsync(await SendTemplateAsync(channel, new { to = Customer, template = Template() }), HttpStatusCode.Accepted);
        var messageId = accepted["messageId"]!.GetValue<string>();

        Assert.False(accepted.ContainsKey("conversationId"));
        var audit = await WaitForAuditAsync(channel, messageId, "sent");
        var posted = Assert.Single(Meta.SentBy(channel.SenderId));
        Assert.Equal(("template", "5511912345678"), (posted.Type, posted.To));
        Assert.Equal(new JsonObject
        {
            ["name"] = "pedido_enviado",
            ["language"] = new JsonObject { ["code"] = "pt_BR" },
            ["components"] = JsonNode.Parse("""[{"type":"body","parameters":[{"type":"text","text":"Maria"},{"type":"text","text":"4711"}]}]"""),
        }.ToJsonString(), posted.Body["template"]!.ToJsonString());
        Assert.Equal("outbound", audit["direction"]!.GetValue<string>());
        var open = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations?channelId={channel.ChannelId}&status=open"), HttpStatusCode.OK);
        Assert.Empty(open["items"]!.AsArray());
    }

    [Fact]
    public async Task TheCustomersReplyToATemplateThatOpenedNothingOpensAConversation()
    {
        var number = Meta.AddPhoneNumber();
        Meta.AddTemplate(number, "pedido_enviado");
        var channel = await _app.WhatsAppChannelAsync(number, hsmOpensConversation: false);
        var accepted = await Arrange.ReadAsync(await SendTemplateAsync(channel, new { to = Customer, template = Template() }), HttpStatusCode.Accepted);
        await WaitForAuditAsync(channel, accepted["messageId"]!.GetValue<string>(), "sent");

        var reply = await _app.CustomerWroteAsync(channel, "5511912345678", TimeSpan.Zero);

        Assert.Equal(ConversationStatus.Open, reply.Status);
        Assert.False(reply.IsSendRecord);
    }

    [Fact]
    public async Task ATemplateThatOpensAConversationOpensOneOutsideTheWindowAndSendsInIt()
    {
        var number = Meta.AddPhoneNumber();
        Meta.AddTemplate(number, "pedido_enviado");
        var channel = await _app.WhatsAppChannelAsync(number, hsmOpensConversation: true);

        var accepted = await Arrange.ReadAsync(await SendTemplateAsync(channel, new { to = Customer, template = Template() }), HttpStatusCode.Accepted);
        var conversationId = accepted["conversationId"]!.GetValue<string>();
        var sent = await _app.WaitForAsync(channel, conversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        var conversation = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}"), HttpStatusCode.OK);
        Assert.Equal(("open", "+5511912345678"), (conversation["status"]!.GetValue<string>(), conversation["contact"]!["externalId"]!.GetValue<string>()));
        Assert.Equal(Assert.Single(Meta.SentBy(channel.SenderId)).Id, sent.ProviderMessageId);
        // Outside the window a free-form message is still refused: only the customer's answer opens it.
        await Arrange.ReadAsync(await _app.PostMessageAsync(channel, conversationId, new { text = "Oi" }), HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task ATemplateThatOpensAConversationJoinsTheContactsOpenOne()
    {
        var number = Meta.AddPhoneNumber();
        Meta.AddTemplate(number, "pedido_enviado");
        var channel = await _app.WhatsAppChannelAsync(number, hsmOpensConversation: true);
        var existing = await _app.CustomerWroteAsync(channel, "5511912345678", TimeSpan.FromDays(2));

        var accepted = await Arrange.ReadAsync(await SendTemplateAsync(channel, new { to = Customer, template = Template() }), HttpStatusCode.Accepted);

        Assert.Equal(existing.Id, accepted["conversationId"]!.GetValue<string>());
        await _app.WaitForAsync(channel, existing.Id, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);
    }

    [Fact]
    public async Task AChannelWithHsmOffRefusesTemplatesWith409()
    {
        var channel = await _app.WhatsAppChannelAsync(Meta.AddPhoneNumber(), hsm: false);

        var response = await SendTemplateAsync(channel, new { to = Customer, template = Template() });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.Conflict);
        Assert.Contains("hsm is false", problem["detail"]!.GetValue<string>());
        Assert.Empty(Meta.SentBy(channel.SenderId));
    }

    [Fact]
    public async Task ATemplateWithoutANumberOrNameIsA400NamingTheFields()
    {
        var channel = await _app.WhatsAppChannelAsync(Meta.AddPhoneNumber());

        var problem = await Arrange.ReadAsync(await SendTemplateAsync(channel, new { to = "551133334444", template = new { language = "pt_BR" } }), HttpStatusCode.BadRequest);

        Assert.Equal(["template.name", "to"], problem["errors"]!.AsObject().Select(e => e.Key).Order());
    }

    [Fact]
    public async Task AnotherCompanysChannelsTemplatesAreNotFound()
    {
        var number = Meta.AddPhoneNumber();
        Meta.AddTemplate(number, "pedido_enviado");
        var channel = await _app.WhatsAppChannelAsync(number);
        var stranger = await _app.TenantAsync("Outra");

        var list = await _app.As(stranger.ManagementKey).GetAsync($"/api/companies/{stranger.CompanyId}/channels/{channel.ChannelId}/templates");
        var send = await SendTemplateAsync(channel, new { to = Customer, template = Template() }, caller: stranger);
        var intoTheirs = await _app.As(stranger.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/templates");

        Assert.Equal(HttpStatusCode.NotFound, list.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, send.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, intoTheirs.StatusCode);
        Assert.Empty(Meta.SentBy(channel.SenderId));
    }

    private async Task<JsonObject> WaitForAuditAsync(MetaChannel channel, string messageId, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        JsonObject? message = null;
        while (DateTime.UtcNow < deadline)
        {
            var audit = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/audit/messages?channelId={channel.ChannelId}"), HttpStatusCode.OK);
            message = audit["items"]!.AsArray().Select(m => m!.AsObject()).SingleOrDefault(m => m["id"]!.GetValue<string>() == messageId);
            if (message?["status"]?.GetValue<string>() == status)
            {
                return message;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Message {messageId} did not become {status} in the audit: {message?.ToJsonString()}");
        return null!;
    }
}
