using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Storage;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

/// <summary>
/// An app whose queue functions listen on queues of their own (test classes share one Azurite), with local
/// triggers polling fast, and helpers to publish events the way the features do.
/// </summary>
internal static class WebhookTestApp
{
    public static OmniApp Create(AzuriteFixture azurite, bool runLocally = true, bool allowPrivateTargets = true,
        string? retrySchedule = "00:00:00,00:00:00.200,00:00:00.200", Action<IServiceCollection>? configureServices = null, Dictionary<string, string?>? more = null)
    {
        var settings = IsolatedQueues.Settings();
        settings["Omni:Triggers:RunLocally"] = runLocally ? "true" : "false";
        if (!runLocally)
        {
            // As when the Functions host launched the app: the host invokes the queue functions (tests do it for it).
            settings["FUNCTIONS_CUSTOMHANDLER_PORT"] = "7071";
        }

        settings["Omni:Triggers:RetryDelay"] = "00:00:00.100";
        settings["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200";
        settings["Omni:Webhooks:AllowPrivateTargets"] = allowPrivateTargets ? "true" : "false";
        settings["Omni:Webhooks:RetrySchedule"] = retrySchedule;
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return new OmniApp(azurite, settings, configureServices);
    }

    public static async Task<Channel> ChannelAsync(this OmniApp app, TestOmniChannel channel) =>
        await app.Services.GetRequiredService<IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId)
        ?? throw new InvalidOperationException("The channel is gone.");

    /// <summary>The queue message DeliverWebhook gets for one attempt, for tests that invoke the handler themselves.</summary>
    public static string TaskMessage(TestOmniChannel channel, string deliveryId, int series = 1, int attempt = 1) =>
        $$"""{"companyId":"{{channel.Tenant.CompanyId}}","channelId":"{{channel.ChannelId}}","deliveryId":"{{deliveryId}}","series":{{series}},"attempt":{{attempt}}}""";

    /// <summary>Publishes a message.created event as the omni transport does; returns the delivery id.</summary>
    public static async Task<string?> PublishAsync(this OmniApp app, TestOmniChannel channel, string text = "Olá, Maria", string? messageId = null)
    {
        messageId ??= Ids.New("msg");
        var data = new JsonObject
        {
            ["messageId"] = messageId,
            ["conversationId"] = "cnv_test",
            ["channelId"] = channel.ChannelId,
            ["direction"] = "outbound",
            ["text"] = text,
            ["contact"] = new JsonObject { ["externalId"] = "cust-42" },
            ["attachments"] = new JsonArray(),
        };
        return await app.Services.GetRequiredService<IWebhookPublisher>().PublishAsync(await app.ChannelAsync(channel), WebhookEventTypes.MessageCreated, data, messageId);
    }

    public static async Task<JsonObject> DeliveryAsync(this OmniApp app, TestOmniChannel channel, string deliveryId) =>
        await Arrange.ReadAsync(await app.As(channel.ApiKey).GetAsync($"/api/audit/deliveries/{deliveryId}"), System.Net.HttpStatusCode.OK);

    /// <summary>Polls the audit endpoint until the delivery reaches <paramref name="status"/>.</summary>
    public static async Task<JsonObject> DeliveryWhenAsync(this OmniApp app, TestOmniChannel channel, string deliveryId, string status, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        JsonObject delivery;
        do
        {
            delivery = await app.DeliveryAsync(channel, deliveryId);
            if (delivery["status"]!.GetValue<string>() == status)
            {
                return delivery;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"Delivery {deliveryId} did not become {status}; it is: {delivery.ToJsonString()}");
        return delivery;
    }
}
