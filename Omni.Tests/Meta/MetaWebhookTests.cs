using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>
/// <c>/api/providers/meta/{channelId}</c> as Meta calls it: the subscription handshake, and events signed over their
/// exact bytes, stored before the 200 and processed once however often Meta delivers them.
/// </summary>
public sealed class MetaWebhookTests(MetaFixture meta, AzuriteFixture azurite) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private readonly MetaInboundApp _meta = new(meta, azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _meta.DisposeAsync();

    [Fact]
    public async Task TheHandshakeAnswersTheChallengeWhenTheVerifyTokenIsTheChannels()
    {
        var channel = await _meta.WhatsAppChannelAsync();

        var response = await _meta.App.Anonymous().GetAsync($"{channel.Url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={channel.VerifyToken}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("1158201444", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("subscribe", "not-the-token")]
    [InlineData("unsubscribe", null)]
    [InlineData(null, null)]
    public async Task TheHandshakeIsForbiddenWithAnotherVerifyTokenOrMode(string? mode, string? token)
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var query = $"hub.challenge=42&hub.verify_token={token ?? channel.VerifyToken}" + (mode is null ? "" : $"&hub.mode={mode}");

        var response = await _meta.App.Anonymous().GetAsync($"{channel.Url}?{query}");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("42", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEventWithoutASignatureIsUnauthorizedAndNothingIsStored()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var body = Encoding.UTF8.GetBytes(MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.nosig", "oi")));

        var response = await _meta.PostRawAsync(channel.Url, body, signature: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingStoredAsync(channel);
    }

    [Fact]
    public async Task AnEventSignedWithAnotherSecretOrOverAReserialisedBodyIsUnauthorizedAndNothingIsStored()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var sent = MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.badsig", MetaEvents.Escape("Olá, não chegou 😞")));
        var body = Encoding.UTF8.GetBytes(sent);
        // The same event as a JSON library writes it (raw UTF-8, no \/): equal as JSON, other bytes, another HMAC.
        var reserialised = Encoding.UTF8.GetBytes(JsonNode.Parse(sent)!.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }));
        Assert.NotEqual(body, reserialised);

        var wrongSecret = await _meta.PostRawAsync(channel.Url, body, MetaInboundApp.Sign(body, "another-app-secret"));
        var overOtherBytes = await _meta.PostRawAsync(channel.Url, body, MetaInboundApp.Sign(reserialised, channel.AppSecret));
        var truncated = await _meta.PostRawAsync(channel.Url, body, MetaInboundApp.Sign(body, channel.AppSecret)[..^2]);

        Assert.Equal(HttpStatusCode.Unauthorized, wrongSecret.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, overOtherBytes.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, truncated.StatusCode);
        await AssertNothingStoredAsync(channel);
    }

    [Fact]
    public async Task TheSignatureIsCheckedOverTheBytesMetaSentWithNonAsciiEscaped()
    {
        var channel = await _meta.WhatsAppChannelAsync();

        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.escaped", MetaEvents.Escape("Olá, a encomenda não chegou 😞 / ação"))));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.raw", "Obrigado, até já 🙏")));

        // The two events are processed from the queue in either order: what matters is that both verified and were stored intact.
        var messages = await _meta.AllMessagesAsync(channel);
        Assert.Equal(["Obrigado, até já 🙏", "Olá, a encomenda não chegou 😞 / ação"], messages.Select(m => m["text"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal(2, await _meta.StoredEventsAsync(channel));
    }

    [Fact]
    public async Task TheSameEventDeliveredAgainAndAgainIsOneMessage()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var json = MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABIYFjNFQjA/dup==", "pedido 4711"));

        // Meta retries (one at a time and at once); a later batch repeats the message inside another event.
        await _meta.DeliverAsync(channel, json);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _meta.DeliverAsync(channel, json)));
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABIYFjNFQjA/dup==", "pedido 4711")
            + "," + MetaEvents.Text("wamid.second", "e outro")));

        var messages = await _meta.AllMessagesAsync(channel);
        Assert.Equal(["pedido 4711", "e outro"], messages.Select(m => m["text"]!.GetValue<string>()));
        Assert.Equal(2, await _meta.StoredEventsAsync(channel));
    }

    [Fact]
    public async Task UnknownDeletedAndNonMetaChannelsAreNotFoundAlike()
    {
        var deleted = await _meta.WhatsAppChannelAsync();
        var deleteResponse = await _meta.App.As(deleted.Tenant.ManagementKey).DeleteAsync($"/api/companies/{deleted.Tenant.CompanyId}/channels/{deleted.ChannelId}");
        Assert.Equal(HttpStatusCode.NoContent, deleteResponse.StatusCode);
        var omni = await _meta.App.OmniChannelAsync();
        var urls = new[] { "/api/providers/meta/chn_doesnotexist0000", "/api/providers/meta/..%2F..", deleted.Url, $"/api/providers/meta/{omni.ChannelId}" };
        var body = Encoding.UTF8.GetBytes(MetaEvents.WhatsApp(deleted, MetaEvents.Text("wamid.gone", "oi")));

        var answers = new List<string>();
        foreach (var url in urls)
        {
            var post = await _meta.PostRawAsync(url, body, MetaInboundApp.Sign(body, deleted.AppSecret));
            var get = await _meta.App.Anonymous().GetAsync($"{url}?hub.mode=subscribe&hub.challenge=7&hub.verify_token={deleted.VerifyToken}");
            Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
            answers.Add(JsonNode.Parse(await post.Content.ReadAsStringAsync())!["detail"]!.GetValue<string>());
        }

        Assert.Single(answers.Distinct());
        await AssertNothingStoredAsync(deleted);
    }

    [Fact]
    public async Task AnotherTenantsAppSecretDoesNotSignForThisChannel()
    {
        var victim = await _meta.WhatsAppChannelAsync();
        var attacker = await _meta.WhatsAppChannelAsync();
        var body = Encoding.UTF8.GetBytes(MetaEvents.WhatsApp(victim, MetaEvents.Text("wamid.forged", "forged")));

        var response = await _meta.PostRawAsync(victim.Url, body, MetaInboundApp.Sign(body, attacker.AppSecret));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertNothingStoredAsync(victim);
    }

    [Fact]
    public async Task RandomBodiesAndSignaturesAreNeverAServerErrorAndStoreNothing()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var random = new Random(20261201);
        var failures = new List<string>();
        for (var i = 0; i < 120; i++)
        {
            var body = new byte[random.Next(0, 2048)];
            random.NextBytes(body);
            if (i % 3 == 0)
            {
                body = Encoding.UTF8.GetBytes(MetaEvents.WhatsApp(channel, MetaEvents.Text($"wamid.fuzz{i}", "x")));
            }

            var signature = (i % 4) switch
            {
                0 => null,
                1 => "sha256=" + Convert.ToHexStringLower(RandomBytes(random, 32)),
                2 => "sha256=" + new string('z', 64),
                _ => new string(Enumerable.Range(0, random.Next(0, 90)).Select(_ => (char)random.Next(0x21, 0x7f)).ToArray()),
            };
            var response = await _meta.PostRawAsync(channel.Url, body, signature);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                failures.Add($"case {i}: {(int)response.StatusCode}");
            }
        }

        Assert.Empty(failures);
        await AssertNothingStoredAsync(channel);
    }

    [Fact]
    public async Task AnEventOverTheSizeLimitIsRefusedWithAProblem()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var body = Encoding.UTF8.GetBytes(MetaEvents.WhatsApp(channel, MetaEvents.Text("wamid.big", new string('a', 1024 * 1024))));

        var response = await _meta.PostRawAsync(channel.Url, body, MetaInboundApp.Sign(body, channel.AppSecret));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await AssertNothingStoredAsync(channel);
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private async Task AssertNothingStoredAsync(TestMetaChannel channel)
    {
        Assert.Equal(0, await _meta.StoredEventsAsync(channel));
        Assert.Equal(0, await _meta.QueuedEventsAsync());
        Assert.Empty(await _meta.ConversationsAsync(channel));
    }
}
