using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;
using Omni.Tests.Meta;
using Omni.Tests.Webhooks;

namespace Omni.Tests.Bots;

/// <summary>A bot as its create response showed it: the only time its secret and key are seen.</summary>
public sealed record TestBot(TestTenant Tenant, string BotId, string WebhookSecret, string Key);

/// <summary>Bots made through the public API, WhatsApp channels that give conversations to one, and what a bot's webhook received.</summary>
internal static class BotArrange
{
    public static Task<HttpResponseMessage> CreateBotAsync(this OmniApp app, TestTenant tenant, object body) =>
        app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/bots", body);

    public static async Task<TestBot> BotAsync(this OmniApp app, TestTenant tenant, string webhookUrl, string name = "URA Atendimento")
    {
        var created = await Arrange.ReadAsync(await app.CreateBotAsync(tenant, new { name, webhookUrl }), HttpStatusCode.Created);
        return new TestBot(tenant, created["id"]!.GetValue<string>(), created["webhookSecret"]!.GetValue<string>(), created["key"]!.GetValue<string>());
    }

    /// <summary>A WhatsApp channel on the fake's number whose new conversations start with <paramref name="bot"/> (returnToBot).</summary>
    public static async Task<TestMetaChannel> BotChannelAsync(this MetaInboundApp meta, TestBot bot, bool hsm = false, bool hsmOpensConversation = false)
    {
        var number = meta.Meta.AddPhoneNumber();
        var appSecret = "app-secret-" + Guid.NewGuid().ToString("N");
        var verifyToken = "verify-" + Guid.NewGuid().ToString("N");
        var channel = await meta.App.ChannelAsync(bot.Tenant, "whatsapp", new
        {
            provider = "meta", number = "5511987654321", phoneNumberId = number.Id, businessAccountId = number.BusinessAccountId,
            accessToken = number.AccessToken, appSecret, verifyToken, expirationMinutes = 60, returnToBot = true, botId = bot.BotId, hsm, hsmOpensConversation,
        });
        return new TestMetaChannel(bot.Tenant, channel["id"]!.GetValue<string>(), appSecret, verifyToken, Number: number);
    }

    /// <summary>The events the bot's webhook got, as (type, data), each checked to be signed with the bot's secret.</summary>
    public static List<(string Type, JsonObject Data, SinkRequest Request)> EventsFor(this WebhookSink sink, TestBot bot)
    {
        var events = new List<(string, JsonObject, SinkRequest)>();
        foreach (var request in sink.Requests)
        {
            var body = JsonNode.Parse(request.Body)!.AsObject();
            var data = body["data"]!.AsObject();
            if (data["botId"]?.GetValue<string>() == bot.BotId)
            {
                Assert.True(StandardWebhooks.VerifiesAny(bot.WebhookSecret, request), $"A {body["type"]} delivery is not signed with the bot's secret.");
                events.Add((body["type"]!.GetValue<string>(), data, request));
            }
        }

        return events;
    }

    /// <summary>Waits for the bot's webhook to get an event of <paramref name="type"/> that <paramref name="matches"/>.</summary>
    public static Task<JsonObject> WaitForEventAsync(this WebhookSink sink, TestBot bot, string type, Func<JsonObject, bool>? matches = null) =>
        Eventually.ValueAsync(() => Task.FromResult(sink.EventsFor(bot).Where(e => e.Type == type && (matches?.Invoke(e.Data) ?? true)).Select(e => e.Data).FirstOrDefault()),
            $"the bot's webhook getting {type}");

    public static Task<HttpResponseMessage> BotSendAsync(this OmniApp app, string key, string conversationId, object body) =>
        app.As(key).PostAsJsonAsync($"/api/bots/conversations/{conversationId}/messages", body);

    public static Task<HttpResponseMessage> HandOffAsync(this OmniApp app, string key, string conversationId, object body) =>
        app.As(key).PostAsJsonAsync($"/api/bots/conversations/{conversationId}/handoff", body);

    public static async Task<JsonObject> ConversationAsync(this OmniApp app, TestTenant tenant, string conversationId) =>
        await Arrange.ReadAsync(await app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/conversations/{conversationId}"), HttpStatusCode.OK);
}
