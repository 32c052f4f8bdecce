using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;
using Omni.Tests.Meta;
using Omni.Tests.Webhooks;

namespace Omni.Tests.Bots;

/// <summary>
/// A WhatsApp channel that gives its conversations to a bot, end to end: the customer writes through Meta's webhook,
/// the bot's webhook gets it signed with the bot's secret, the bot answers through the fake Meta and hands off to a
/// service, and the agents' close returns the conversation to the bot.
/// </summary>
public sealed class BotConversationTests(MetaFixture meta, AzuriteFixture azurite) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private readonly MetaInboundApp _meta = new(meta, azurite, new Dictionary<string, string?>
    {
        ["Omni:Webhooks:AllowPrivateTargets"] = "true",
        ["Omni:Webhooks:RetrySchedule"] = "00:00:00,00:00:00.200,00:00:00.200",
        ["Omni:Conversations:OutboundRetryDelay"] = "00:00:00.200",
    });

    private WebhookSink _sink = null!;

    private OmniApp App => _meta.App;

    public async ValueTask InitializeAsync() => _sink = await WebhookSink.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _meta.DisposeAsync();
        await _sink.DisposeAsync();
    }

    private async Task<(TestBot Bot, TestMetaChannel Channel, string ConversationId)> CustomerWroteToTheBotAsync(TestTenant? tenant = null, string wamid = "wamid.bot1")
    {
        tenant ??= await App.TenantAsync();
        var bot = await App.BotAsync(tenant, _sink.Url("/bot"));
        var channel = await _meta.BotChannelAsync(bot);
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text(wamid, MetaEvents.Escape("Olá, quero a 2ª via do boleto 🙏"))));
        await _meta.DrainAsync();
        var conversation = Assert.Single(await _meta.ConversationsAsync(channel));
        return (bot, channel, conversation["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABotConversationGoesFromTheFirstMessageToAHandoffAndBackToTheBot()
    {
        var (bot, channel, conversationId) = await CustomerWroteToTheBotAsync();

        // The conversation starts with the bot, which hears of it and of the message, signed with its own secret.
        var opened = await App.ConversationAsync(channel.Tenant, conversationId);
        Assert.Equal(("bot", bot.BotId), (opened["handler"]!.GetValue<string>(), opened["botId"]!.GetValue<string>()));
        await _sink.WaitForEventAsync(bot, "conversation.opened", d => d["conversationId"]!.GetValue<string>() == conversationId);
        var inbound = await _sink.WaitForEventAsync(bot, "message.created");
        Assert.Equal(("inbound", conversationId, channel.ChannelId), (inbound["direction"]!.GetValue<string>(), inbound["conversationId"]!.GetValue<string>(), inbound["channelId"]!.GetValue<string>()));
        Assert.Equal("Olá, quero a 2ª via do boleto 🙏", inbound["text"]!.GetValue<string>());
        Assert.Equal("João", inbound["contact"]!["name"]!.GetValue<string>());

        // The bot answers: the reply goes out through Meta to the customer's number.
        var reply = await Arrange.ReadAsync(await App.BotSendAsync(bot.Key, conversationId, new { text = "Claro! Qual o seu CPF?" }), HttpStatusCode.Accepted);
        Assert.Equal("queued", reply["status"]!.GetValue<string>());
        var sent = await Eventually.ValueAsync(() => Task.FromResult(_meta.Meta.SentBy(channel.Number!.Id).SingleOrDefault()), "the bot's reply reaching Meta");
        Assert.Equal(("text", "5511988887777", "Claro! Qual o seu CPF?"), (sent.Type, sent.To, sent.Body["text"]!["body"]!.GetValue<string>()));

        // The bot hands off to the service's agents; it no longer hears the customer, and its key no longer reaches the conversation.
        var handed = await Arrange.ReadAsync(await App.HandOffAsync(bot.Key, conversationId, new { serviceId = channel.Tenant.ServiceId }), HttpStatusCode.OK);
        Assert.Equal(("agents", channel.Tenant.ServiceId, "open"), (handed["handler"]!.GetValue<string>(), handed["serviceId"]!.GetValue<string>(), handed["status"]!.GetValue<string>()));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.bot2", "Meu CPF é 123")));
        await _meta.DrainAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await App.BotSendAsync(bot.Key, conversationId, new { text = "Ainda aqui?" })).StatusCode);

        // Agents close it: on a returnToBot channel it returns to the bot, open, and the bot is told.
        var closed = await Arrange.ReadAsync(await App.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);
        Assert.Equal(("open", "bot", bot.BotId), (closed["status"]!.GetValue<string>(), closed["handler"]!.GetValue<string>(), closed["botId"]!.GetValue<string>()));
        await _sink.WaitForEventAsync(bot, "conversation.returned", d => d["conversationId"]!.GetValue<string>() == conversationId);
        var events = _sink.EventsFor(bot);
        Assert.DoesNotContain(events, e => e.Type == "message.created" && e.Data["text"]!.GetValue<string>() == "Meu CPF é 123");
        Assert.DoesNotContain(events, e => e.Type == "conversation.closed");
        Assert.Single(events, e => e.Type == "message.created");
        Assert.Equal(HttpStatusCode.Accepted, (await App.BotSendAsync(bot.Key, conversationId, new { text = "Voltei! Posso ajudar em algo mais?" })).StatusCode);
        // Each event is one delivery under one webhook-id.
        Assert.Equal(events.Count, events.Select(e => e.Request.WebhookId).Distinct().Count());
    }

    [Fact]
    public async Task AMessageMetaDeliversTwiceReachesTheBotOnce()
    {
        var (bot, channel, conversationId) = await CustomerWroteToTheBotAsync(wamid: "wamid.twice");
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.twice", MetaEvents.Escape("Olá, quero a 2ª via do boleto 🙏"))));
        await _meta.DrainAsync();
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.after", "Alô?")));
        await _meta.DrainAsync();

        await _sink.WaitForEventAsync(bot, "message.created", d => d["text"]!.GetValue<string>() == "Alô?");

        var events = _sink.EventsFor(bot).Where(e => e.Data["conversationId"]!.GetValue<string>() == conversationId).ToList();
        Assert.Single(events, e => e.Type == "message.created" && e.Data["text"]!.GetValue<string>().StartsWith("Olá", StringComparison.Ordinal));
        Assert.Single(events, e => e.Type == "conversation.opened");
    }

    [Fact]
    public async Task AgentsClosingAConversationTheBotHandlesCloseItAndTheBotIsTold()
    {
        var (bot, channel, conversationId) = await CustomerWroteToTheBotAsync();

        var closed = await Arrange.ReadAsync(await App.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);

        Assert.Equal("closed", closed["status"]!.GetValue<string>());
        await _sink.WaitForEventAsync(bot, "conversation.closed", d => d["conversationId"]!.GetValue<string>() == conversationId);
        Assert.Equal(HttpStatusCode.Conflict, (await App.BotSendAsync(bot.Key, conversationId, new { text = "Olá?" })).StatusCode);
    }

    [Fact]
    public async Task ABotKeySeesOnlyTheConversationsItsBotHandles()
    {
        var (bot, channel, conversationId) = await CustomerWroteToTheBotAsync();
        var sameCompanysOtherBot = await App.BotAsync(channel.Tenant, _sink.Url("/other"), "Outro bot");
        var otherCompany = await App.TenantAsync("Outra");
        var otherCompanysBot = await App.BotAsync(otherCompany, _sink.Url("/foreign"));

        foreach (var key in new[] { sameCompanysOtherBot.Key, otherCompanysBot.Key })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await App.BotSendAsync(key, conversationId, new { text = "Oi" })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await App.HandOffAsync(key, conversationId, new { serviceId = channel.Tenant.ServiceId })).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await App.HandOffAsync(otherCompanysBot.Key, conversationId, new { serviceId = otherCompany.ServiceId })).StatusCode);
        Assert.Equal("bot", (await App.ConversationAsync(channel.Tenant, conversationId))["handler"]!.GetValue<string>());
        Assert.Empty(_meta.Meta.SentBy(channel.Number!.Id));
        Assert.Equal(HttpStatusCode.Accepted, (await App.BotSendAsync(bot.Key, conversationId, new { text = "Oi" })).StatusCode);
    }

    [Fact]
    public async Task AHandoffNeedsAServiceOfTheBotsOwnCompany()
    {
        var (bot, channel, conversationId) = await CustomerWroteToTheBotAsync();
        var other = await App.TenantAsync("Outra");

        var missing = await Arrange.ReadAsync(await App.HandOffAsync(bot.Key, conversationId, new { }), HttpStatusCode.BadRequest);
        var foreign = await Arrange.ReadAsync(await App.HandOffAsync(bot.Key, conversationId, new { serviceId = other.ServiceId }), HttpStatusCode.BadRequest);
        var empty = await App.BotSendAsync(bot.Key, conversationId, new { text = "  " });
        var malformed = await App.As(bot.Key).PostAsync($"/api/bots/conversations/{conversationId}/handoff", new StringContent("{\"serviceId\":", System.Text.Encoding.UTF8, "application/json"));

        Assert.True(missing["errors"]!.AsObject().ContainsKey("serviceId"));
        Assert.True(foreign["errors"]!.AsObject().ContainsKey("serviceId"));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal("bot", (await App.ConversationAsync(channel.Tenant, conversationId))["handler"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheCustomersReplyToATemplateOpensAConversationWithTheBot()
    {
        var tenant = await App.TenantAsync();
        var bot = await App.BotAsync(tenant, _sink.Url("/bot"));
        var channel = await _meta.BotChannelAsync(bot, hsm: true, hsmOpensConversation: false);
        _meta.Meta.AddTemplate(channel.Number!, "boleto_disponivel");
        var template = await App.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{channel.ChannelId}/templates/send",
            new { to = "+5511988887777", template = new { name = "boleto_disponivel", language = "pt_BR" } });
        Assert.Equal(HttpStatusCode.Accepted, template.StatusCode);
        await Eventually.ValueAsync(() => Task.FromResult(_meta.Meta.SentBy(channel.Number!.Id).SingleOrDefault()), "the template reaching Meta");

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.reply", "Quero pagar")));
        await _meta.DrainAsync();

        var open = Assert.Single(await _meta.ConversationsAsync(channel), c => c["status"]!.GetValue<string>() == "open");
        Assert.Equal(("bot", bot.BotId), (open["handler"]!.GetValue<string>(), open["botId"]!.GetValue<string>()));
        await _sink.WaitForEventAsync(bot, "message.created", d => d["text"]!.GetValue<string>() == "Quero pagar");
    }

    [Fact]
    public async Task ABotsDeliveriesAreRetriedAndInTheDeliveryAudit()
    {
        // The bot's endpoint fails the first attempt of each event; the engine retries on its schedule.
        var failed = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        _sink.Respond = r => failed.TryAdd(r.WebhookId ?? "", true) ? new SinkReply(503) : new SinkReply(200);
        var (bot, channel, conversationId) = await CustomerWroteToTheBotAsync();
        var inbound = await _sink.WaitForEventAsync(bot, "message.created");
        var audit = await Eventually.ValueAsync(async () =>
        {
            var list = await Arrange.ReadAsync(await App.As(channel.Tenant.ManagementKey).GetAsync($"/api/audit/deliveries?channelId={bot.BotId}&status=succeeded"), HttpStatusCode.OK);
            return list["items"]!.AsArray().FirstOrDefault(d => d!["eventType"]!.GetValue<string>() == "message.created")?.AsObject();
        }, "the bot's delivery succeeded in the audit");

        Assert.Equal(inbound["messageId"]!.GetValue<string>(), audit["messageId"]!.GetValue<string>());
        var detail = await Arrange.ReadAsync(await App.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/audit/deliveries/{audit["id"]!.GetValue<string>()}?channelId={bot.BotId}"), HttpStatusCode.OK);
        Assert.Equal([503, 200], detail["attempts"]!.AsArray().Select(a => a!["statusCode"]!.GetValue<int>()));
        // The inbound message keeps its own status: a bot's delivery is not the message's delivery.
        var message = Assert.Single(await _meta.MessagesAsync(channel, conversationId));
        Assert.Equal("accepted", message["status"]!.GetValue<string>());
        var other = await App.TenantAsync("Outra");
        Assert.Equal(HttpStatusCode.NotFound, (await App.As(other.ManagementKey).GetAsync($"/api/audit/deliveries/{audit["id"]!.GetValue<string>()}?channelId={bot.BotId}")).StatusCode);
        Assert.Empty((await Arrange.ReadAsync(await App.As(other.ManagementKey).GetAsync($"/api/audit/deliveries?channelId={bot.BotId}"), HttpStatusCode.OK))["items"]!.AsArray());
    }
}
