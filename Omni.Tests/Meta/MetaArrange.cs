using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Omni.Conversations;
using Omni.Meta;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

public sealed record MetaChannel(TestTenant Tenant, string ChannelId, string SenderId)
{
    /// <summary>Set on an instagram channel: its page id (the sender of its messages).</summary>
    public string? InstagramPageId { get; init; }
}

/// <summary>WhatsApp and Instagram channels on the fake Meta, and customers who wrote some time ago.</summary>
internal static class MetaArrange
{
    /// <summary>The settings of the app that sends through the fake: its own queues, run locally, with short retries.</summary>
    public static Dictionary<string, string?> SendingSettings() => new(IsolatedQueues.Settings())
    {
        ["Omni:Triggers:RunLocally"] = "true",
        ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
        ["Omni:Conversations:OutboundRetryDelay"] = "00:00:00.200",
        ["Omni:Conversations:OutboundRetryMaxDelay"] = "00:00:00.500",
        ["Omni:Conversations:OutboundMaxAttempts"] = "4",
    };

    public static async Task<MetaChannel> WhatsAppChannelAsync(this OmniApp app, FakePhoneNumber number, bool hsm = true, bool hsmOpensConversation = false,
        bool withAccount = true, string? token = null, TestTenant? tenant = null)
    {
        tenant ??= await app.TenantAsync();
        var settings = new Dictionary<string, object?>
        {
            ["provider"] = "meta",
            ["number"] = new string([.. number.DisplayNumber.Where(char.IsAsciiDigit)]),
            ["phoneNumberId"] = number.Id,
            ["accessToken"] = token ?? number.AccessToken,
            ["appSecret"] = "app-secret-" + number.Id,
            ["verifyToken"] = "verify-" + number.Id,
            ["expirationMinutes"] = 1440,
            ["returnToBot"] = false,
            ["hsm"] = hsm,
            ["hsmOpensConversation"] = hsmOpensConversation,
        };
        if (withAccount)
        {
            settings["businessAccountId"] = number.BusinessAccountId;
        }

        var channel = await app.ChannelAsync(tenant, "whatsapp", settings);
        return new MetaChannel(tenant, channel["id"]!.GetValue<string>(), number.Id);
    }

    public static async Task<MetaChannel> InstagramChannelAsync(this OmniApp app, FakePage page, string? instagramAccountId = null)
    {
        var tenant = await app.TenantAsync();
        var channel = await app.ChannelAsync(tenant, "instagram", new
        {
            accountEmail = "social@acme.com.br",
            pageId = page.Id,
            instagramAccountId = instagramAccountId ?? page.InstagramAccountId,
            accessToken = page.AccessToken,
            appSecret = "app-secret-" + page.Id,
            verifyToken = "verify-" + page.Id,
        });
        return new MetaChannel(tenant, channel["id"]!.GetValue<string>(), page.Id) { InstagramPageId = page.Id };
    }

    /// <summary>The customer's message stored as if it arrived <paramref name="ago"/> before now (a store on a clock set back).</summary>
    public static async Task<Conversation> CustomerWroteAsync(this OmniApp app, MetaChannel channel, string contact, TimeSpan ago)
    {
        var services = app.Services;
        var store = new TableConversationStore(services.GetRequiredService<TableServiceClient>(), new FakeTimeProvider(DateTimeOffset.UtcNow - ago),
            services.GetRequiredService<IOptions<ConversationOptions>>(), services.GetRequiredService<ConversationOutbox>());
        var appended = await store.AppendInboundAsync(new InboundMessage(channel.Tenant.CompanyId, channel.ChannelId, "in-" + Guid.NewGuid().ToString("N"),
            Contact(channel, contact), "Olá", BodyHash: "h"));
        return (await store.GetConversationAsync(channel.Tenant.CompanyId, appended.Message.ConversationId))!;
    }

    /// <summary>The contact as the inbound side keys it: a WhatsApp wa_id by its E.164 key (the number Meta named kept as the phone), an Instagram IGSID as it is.</summary>
    private static ContactInfo Contact(MetaChannel channel, string contact) => channel.SenderId == channel.InstagramPageId
        ? new ContactInfo(contact, "Maria")
        : new ContactInfo(WhatsAppContacts.Key(contact), "Maria", Phone: "+" + contact);

    public static Task<HttpResponseMessage> PostMessageAsync(this OmniApp app, MetaChannel channel, string conversationId, object body) =>
        app.As(channel.Tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", body);

    public static async Task<string> SendTextAsync(this OmniApp app, MetaChannel channel, string conversationId, string text) =>
        (await Arrange.ReadAsync(await app.PostMessageAsync(channel, conversationId, new { text }), HttpStatusCode.Accepted))["messageId"]!.GetValue<string>();

    /// <summary>Waits for the message to reach <paramref name="status"/> (sent or failed) and returns it as stored.</summary>
    public static async Task<Message> WaitForAsync(this OmniApp app, MetaChannel channel, string conversationId, string messageId, MessageStatus status)
    {
        var store = app.Services.GetRequiredService<IConversationStore>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        Message? message = null;
        while (DateTime.UtcNow < deadline)
        {
            message = await store.GetMessageAsync(channel.Tenant.CompanyId, conversationId, messageId);
            if (message?.Status == status)
            {
                return message;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Message {messageId} did not become {status}; it is {message?.Status} ({message?.Error}).");
        return null!;
    }

    public static async Task<JsonObject> TestChannelAsync(this OmniApp app, MetaChannel channel) =>
        await Arrange.ReadAsync(await app.As(channel.Tenant.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null), HttpStatusCode.OK);
}
