using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.MercadoLivre;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.MercadoLivre;

/// <summary>The fake Mercado Livre of one test class, and apps wired to it (only the Mercado Livre HttpClient trusts its CA).</summary>
public sealed class MercadoLivreFixture : IAsyncLifetime
{
    public TestCertificateAuthority Authority { get; } = TestCertificateAuthority.Create();

    public FakeMercadoLivre Fake { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Fake = await FakeMercadoLivre.StartAsync(Authority);

    /// <summary>
    /// Settings of an app that runs its functions locally on queues of its own, with short retries; apps made from one
    /// copy share queues and the secrets key, as two instances of one deployment do.
    /// </summary>
    public static Dictionary<string, string?> Settings() => new(IsolatedQueues.Settings())
    {
        ["Omni:SecretsKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        ["Omni:Triggers:RunLocally"] = "true",
        ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
        ["Omni:Conversations:OutboundRetryDelay"] = "00:00:00.200",
        ["Omni:Conversations:OutboundRetryMaxDelay"] = "00:00:00.500",
        ["Omni:MercadoLivre:RetryDelay"] = "00:00:00.200",
    };

    /// <param name="http">More of the Mercado Livre HttpClient's pipeline (a fault a test injects between the fake and the app).</param>
    public OmniApp CreateApp(AzuriteFixture azurite, IDictionary<string, string?>? settings = null, Action<IHttpClientBuilder>? http = null) => new(azurite,
        new Dictionary<string, string?>(settings ?? Settings())
        {
            ["Omni:MercadoLivre:ApiBaseUrl"] = Fake.ApiBaseUrl,
            ["Omni:MercadoLivre:AuthBaseUrl"] = Fake.ApiBaseUrl,
        },
        services =>
        {
            var client = services.AddHttpClient(MercadoLivreApi.HttpClientName).ConfigurePrimaryHttpMessageHandler(Authority.CreateTrustingHandler);
            http?.Invoke(client);
        });

    public async ValueTask DisposeAsync()
    {
        if (Fake is not null)
        {
            await Fake.DisposeAsync();
        }

        Authority.Dispose();
    }
}

/// <summary>A mercadolivre channel made through the public API for a seller of the fake.</summary>
public sealed record TestMercadoLivreChannel(TestTenant Tenant, string ChannelId, FakeSeller Seller, string ClientId, string NotificationKey, string NotificationUrl);

/// <summary>Mercado Livre channels, notifications posted as Mercado Livre posts them, and what became of them.</summary>
internal static class MercadoLivreArrange
{
    public static async Task<TestMercadoLivreChannel> MercadoLivreChannelAsync(this OmniApp app, FakeSeller seller, TestTenant? tenant = null, string clientId = "5544332211")
    {
        tenant ??= await app.TenantAsync();
        var created = await app.ChannelAsync(tenant, "mercadolivre", new
        {
            sellerId = seller.Id,
            clientId,
            clientSecret = "ml-client-secret",
            refreshToken = seller.RefreshToken,
        });
        return new TestMercadoLivreChannel(tenant, created["id"]!.GetValue<string>(), seller, clientId,
            created["notificationKey"]!.GetValue<string>(), created["notificationUrl"]!.GetValue<string>());
    }

    /// <summary>A notification body as Mercado Livre sends it; the same <paramref name="id"/> is the same event retried.</summary>
    public static JsonObject Notification(string topic, string resource, string userId, string? id = null, int attempts = 1) => new()
    {
        ["_id"] = id ?? Guid.NewGuid().ToString(),
        ["resource"] = resource,
        ["user_id"] = long.Parse(userId, System.Globalization.CultureInfo.InvariantCulture),
        ["topic"] = topic,
        ["application_id"] = 5544332211,
        ["attempts"] = attempts,
        ["sent"] = DateTimeOffset.UtcNow.ToString("O"),
        ["received"] = "2026-11-30T13:44:32.984Z",
    };

    public static Task<HttpResponseMessage> NotifyAsync(this OmniApp app, string key, JsonNode notification) =>
        app.Anonymous().PostAsync($"/api/providers/mercadolivre/notifications?key={Uri.EscapeDataString(key)}",
            new StringContent(notification.ToJsonString(), Encoding.UTF8, "application/json"));

    /// <summary>Waits until the channel's conversations hold a message with this external id, and returns it.</summary>
    public static Task<Message> WaitForInboundAsync(this OmniApp app, TestMercadoLivreChannel channel, string externalId) =>
        Eventually.ValueAsync(async () => (await InboundAsync(app, channel)).FirstOrDefault(m => m.ExternalId == externalId), $"message {externalId} is stored");

    public static async Task<IReadOnlyList<Message>> InboundAsync(this OmniApp app, TestMercadoLivreChannel channel)
    {
        var store = app.Services.GetRequiredService<IConversationStore>();
        var page = await store.ListChannelMessagesAsync(channel.Tenant.CompanyId, channel.ChannelId, MessageDirection.Inbound, null, 100, null);
        return page.Items;
    }

    public static Task<HttpResponseMessage> ReplyAsync(this OmniApp app, TestMercadoLivreChannel channel, string conversationId, string text) =>
        app.As(channel.Tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages", new { text });

    public static async Task<Message> WaitForStatusAsync(this OmniApp app, TestMercadoLivreChannel channel, string conversationId, string messageId, MessageStatus status)
    {
        var store = app.Services.GetRequiredService<IConversationStore>();
        Message? message = null;
        await Eventually.HoldsAsync(async () => (message = await store.GetMessageAsync(channel.Tenant.CompanyId, conversationId, messageId))?.Status == status,
            $"message {messageId} is {status}");
        return message!;
    }

    public static async Task<JsonObject> TestChannelAsync(this OmniApp app, TestMercadoLivreChannel channel) =>
        await Arrange.ReadAsync(await app.As(channel.Tenant.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null), HttpStatusCode.OK);
}
