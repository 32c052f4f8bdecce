using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Meta;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>A Meta channel made through the public API, wired to the fake's number or page, with the secrets Meta would hold.</summary>
public sealed record TestMetaChannel(TestTenant Tenant, string ChannelId, string AppSecret, string VerifyToken, FakePhoneNumber? Number = null, FakePage? Page = null)
{
    public string Url => $"/api/providers/meta/{ChannelId}";
}

/// <summary>
/// An app that runs the MetaEvent function on queues of its own, and posts events as Meta does: the exact bytes,
/// signed with <c>X-Hub-Signature-256</c>.
/// </summary>
public sealed class MetaInboundApp : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly Dictionary<string, string?> _settings;

    public MetaInboundApp(MetaFixture meta, AzuriteFixture azurite, IDictionary<string, string?>? settings = null)
    {
        Meta = meta.Meta;
        _settings = new Dictionary<string, string?>(IsolatedQueues.Settings())
        {
            ["Omni:Triggers:RunLocally"] = "true",
            ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
            ["Omni:Meta:RetryDelay"] = "00:00:00.200",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        App = meta.CreateApp(azurite, settings: _settings);
    }

    public OmniApp App { get; }

    public FakeMeta Meta { get; }

    public string QueueName => _settings["Omni:Meta:EventsQueueName"]!;

    public IConversationStore Store => App.Services.GetRequiredService<IConversationStore>();

    public async Task<TestMetaChannel> WhatsAppChannelAsync(TestTenant? tenant = null, FakePhoneNumber? number = null, int expirationMinutes = 60)
    {
        tenant ??= await App.TenantAsync();
        number ??= Meta.AddPhoneNumber();
        var appSecret = "app-secret-" + Guid.NewGuid().ToString("N");
        var verifyToken = "verify-" + Guid.NewGuid().ToString("N");
        var channel = await App.ChannelAsync(tenant, "whatsapp", new
        {
            provider = "meta", number = "5511987654321", phoneNumberId = number.Id, businessAccountId = number.BusinessAccountId,
            accessToken = number.AccessToken, appSecret, verifyToken, expirationMinutes, returnToBot = false, hsm = false, hsmOpensConversation = false,
        });
        return new TestMetaChannel(tenant, channel["id"]!.GetValue<string>(), appSecret, verifyToken, Number: number);
    }

    public async Task<TestMetaChannel> InstagramChannelAsync(TestTenant? tenant = null)
    {
        tenant ??= await App.TenantAsync();
        var page = Meta.AddPage();
        var appSecret = "ig-secret-" + Guid.NewGuid().ToString("N");
        var verifyToken = "ig-verify-" + Guid.NewGuid().ToString("N");
        var channel = await App.ChannelAsync(tenant, "instagram", new
        {
            accountEmail = "loja@acme.com.br", pageId = page.Id, instagramAccountId = page.InstagramAccountId, accessToken = page.AccessToken, appSecret, verifyToken,
        });
        return new TestMetaChannel(tenant, channel["id"]!.GetValue<string>(), appSecret, verifyToken, Page: page);
    }

    /// <summary><c>sha256=</c> + hex HMAC-SHA256 of the bytes, as Meta signs them.</summary>
    public static string Sign(byte[] body, string appSecret) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), body));

    /// <summary>Posts exactly <paramref name="body"/>, signed with <paramref name="signature"/> (none when null).</summary>
    public async Task<HttpResponseMessage> PostRawAsync(string url, byte[] body, string? signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", signature);
        }

        return await App.Anonymous().SendAsync(request);
    }

    /// <summary>Posts the event signed with the channel's app secret and expects the 200.</summary>
    public async Task DeliverAsync(TestMetaChannel channel, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var response = await PostRawAsync(channel.Url, body, Sign(body, channel.AppSecret));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Meta's POST answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Waits until the app has processed every queued event (the queue is empty, in-flight ones included).</summary>
    public async Task DrainAsync()
    {
        var queue = App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(QueueName);
        using var timeout = new CancellationTokenSource(Patience);
        while ((await queue.GetPropertiesAsync(timeout.Token)).Value.ApproximateMessagesCount > 0)
        {
            await Task.Delay(100, timeout.Token);
        }
    }

    public async Task<List<JsonObject>> ConversationsAsync(TestMetaChannel channel)
    {
        var list = await Arrange.ReadAsync(await App.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations?channelId={channel.ChannelId}"), HttpStatusCode.OK);
        return list["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
    }

    public async Task<List<JsonObject>> MessagesAsync(TestMetaChannel channel, string conversationId)
    {
        var list = await Arrange.ReadAsync(await App.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages?limit=100"), HttpStatusCode.OK);
        return list["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
    }

    /// <summary>Every message of the channel, after the queue is drained.</summary>
    public async Task<List<JsonObject>> AllMessagesAsync(TestMetaChannel channel)
    {
        await DrainAsync();
        var all = new List<JsonObject>();
        foreach (var conversation in await ConversationsAsync(channel))
        {
            all.AddRange(await MessagesAsync(channel, conversation["id"]!.GetValue<string>()));
        }

        return all;
    }

    /// <summary>The events stored for the channel in Blob Storage.</summary>
    public async Task<int> StoredEventsAsync(TestMetaChannel channel)
    {
        var container = App.Services.GetRequiredService<BlobServiceClient>().GetBlobContainerClient(MetaEventStore.Container);
        var count = 0;
        await foreach (var _ in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{channel.Tenant.CompanyId}/{channel.ChannelId}/", CancellationToken.None))
        {
            count++;
        }

        return count;
    }

    public async Task<int> QueuedEventsAsync() =>
        (await App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(QueueName).GetPropertiesAsync()).Value.ApproximateMessagesCount;

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>Meta's event documents, written as Meta writes them (compact, non-ASCII as <c>\uXXXX</c>, <c>/</c> as <c>\/</c>).</summary>
public static class MetaEvents
{
    /// <summary>A WhatsApp change with the given <c>messages</c>/<c>statuses</c> members (raw JSON fragments).</summary>
    public static string WhatsApp(TestMetaChannel channel, string? messages = null, string? statuses = null, string waId = "5511988887777", string name = "Jo\\u00e3o")
    {
        var members = new List<string>
        {
            "\"messaging_product\":\"whatsapp\"",
            $"\"metadata\":{{\"display_phone_number\":\"5511987654321\",\"phone_number_id\":\"{channel.Number!.Id}\"}}",
        };
        if (messages is not null)
        {
            members.Add($"\"contacts\":[{{\"profile\":{{\"name\":\"{name}\"}},\"wa_id\":\"{waId}\"}}]");
            members.Add($"\"messages\":[{messages}]");
        }

        if (statuses is not null)
        {
            members.Add($"\"statuses\":[{statuses}]");
        }

        return $"{{\"object\":\"whatsapp_business_account\",\"entry\":[{{\"id\":\"{channel.Number!.BusinessAccountId}\",\"changes\":[{{\"value\":{{{string.Join(',', members)}}},\"field\":\"messages\"}}]}}]}}";
    }

    public static string Message(string wamid, string type, string body, string from = "5511988887777") =>
        $"{{\"from\":\"{from}\",\"id\":\"{wamid}\",\"timestamp\":\"1764590000\",\"type\":\"{type}\",\"{type}\":{body}}}";

    public static string Text(string wamid, string text, string from = "5511988887777") => Message(wamid, "text", $"{{\"body\":\"{text}\"}}", from);

    public static string Status(string wamid, string status, string? errors = null) =>
        $"{{\"id\":\"{wamid}\",\"status\":\"{status}\",\"timestamp\":\"1764590100\",\"recipient_id\":\"5511988887777\"{(errors is null ? "" : ",\"errors\":" + errors)}}}";

    /// <summary>An Instagram messaging event list (raw JSON fragments of <c>messaging[]</c>).</summary>
    public static string Instagram(TestMetaChannel channel, params string[] messaging) =>
        $"{{\"object\":\"instagram\",\"entry\":[{{\"id\":\"{channel.Page!.InstagramAccountId}\",\"time\":1764590000000,\"messaging\":[{string.Join(',', messaging)}]}}]}}";

    public static string Messaging(TestMetaChannel channel, string igsid, string member, string body, long timestamp = 1764590000123) =>
        $"{{\"sender\":{{\"id\":\"{igsid}\"}},\"recipient\":{{\"id\":\"{channel.Page!.InstagramAccountId}\"}},\"timestamp\":{timestamp},\"{member}\":{body}}}";

    /// <summary>A JSON string literal as Meta writes one: non-ASCII as <c>\uXXXX</c> (emoji as surrogate pairs), <c>/</c> as <c>\/</c>.</summary>
    public static string Escape(string value)
    {
        var builder = new StringBuilder();
        foreach (var c in value)
        {
            builder.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '/' => "\\/",
                '\n' => "\\n",
                _ when c > 0x7e || c < 0x20 => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return builder.ToString();
    }
}
