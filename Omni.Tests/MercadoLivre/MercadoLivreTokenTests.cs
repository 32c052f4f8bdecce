using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.MercadoLivre;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MercadoLivre;

/// <summary>The seller's tokens: renewed when due, the single-use refresh token never spent twice, a refused one named.</summary>
public sealed class MercadoLivreTokenTests(AzuriteFixture azurite, MercadoLivreFixture ml) : IClassFixture<MercadoLivreFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = ml.CreateApp(azurite);

    private FakeMercadoLivre Fake => ml.Fake;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task TheSettingsTestGetsAnAccessTokenChecksTheSellerAndStoresTheRotatedRefreshToken()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var pasted = seller.RefreshToken;

        var report = await _app.TestChannelAsync(channel);

        Assert.True(report["ok"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal("Configurações OK", report["message"]!.GetValue<string>());
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var stored = store.RevealSecret((await store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!, "refreshToken");
        Assert.NotEqual(pasted, stored);
        Assert.Equal(seller.RefreshToken, stored);

        // Cached until it is about to expire: a second test renews nothing.
        await _app.TestChannelAsync(channel);
        Assert.Single(Fake.RefreshAttempts, t => t == pasted || t == stored);
    }

    [Fact]
    public async Task ARefusedRefreshTokenMakesTheSettingsTestSayTheSellerMustReconnect()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        seller.RefreshToken = "TG-revoked-" + Guid.NewGuid().ToString("N");

        var report = await _app.TestChannelAsync(channel);

        Assert.False(report["ok"]!.GetValue<bool>());
        Assert.Contains("must reconnect", report["message"]!.GetValue<string>());
        Assert.Contains("invalid_grant", report["message"]!.GetValue<string>());
        Assert.DoesNotContain(channel.Seller.RefreshToken, report.ToJsonString());
    }

    [Fact]
    public async Task AChannelWhoseRefreshTokenWasRefusedIsListedInTheAdminsHealthUntilANewRefreshTokenWorks()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        seller.RefreshToken = "TG-revoked-" + Guid.NewGuid().ToString("N");
        Assert.False((await _app.TestChannelAsync(channel))["ok"]!.GetValue<bool>());

        var listed = await AdminReconnectAsync();
        Assert.Contains(listed, c => c!["companyId"]!.GetValue<string>() == channel.Tenant.CompanyId
            && c["channelId"]!.GetValue<string>() == channel.ChannelId && c["type"]!.GetValue<string>() == "mercadolivre");
        var anonymous = await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/health"), HttpStatusCode.OK);
        Assert.False(anonymous.ContainsKey("reconnect"));

        // The operator saves the seller's new refresh token: the next renewal works and the channel leaves the list.
        seller.RefreshToken = "TG-new-" + Guid.NewGuid().ToString("N");
        var store = _app.Services.GetRequiredService<IChannelStore>();
        await store.UpdateAsync((await store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!,
            new Dictionary<string, string> { [MercadoLivreTokens.RefreshTokenField] = seller.RefreshToken });
        Assert.True((await _app.TestChannelAsync(channel))["ok"]!.GetValue<bool>());
        Assert.DoesNotContain(await AdminReconnectAsync(), c => c!["channelId"]!.GetValue<string>() == channel.ChannelId);
    }

    private async Task<JsonArray> AdminReconnectAsync() =>
        (JsonArray)(await Arrange.ReadAsync(await _app.Admin().GetAsync("/api/health"), HttpStatusCode.OK))["reconnect"]!;

    [Fact]
    public async Task ConcurrentCallersOnTwoInstancesWithExpiringTokensNeverSpendARefreshTokenTwice()
    {
        // Tokens that are due for renewal almost at once: every round of callers finds the stored one expiring.
        var settings = new Dictionary<string, string?>(MercadoLivreFixture.Settings()) { ["Omni:MercadoLivre:TokenRenewBefore"] = "00:59:59" };
        await using var first = ml.CreateApp(azurite, settings);
        await using var second = ml.CreateApp(azurite, settings);
        var seller = Fake.AddSeller();
        var channel = await first.MercadoLivreChannelAsync(seller);
        var before = Fake.RefreshAttempts.Count;
        var requestsBefore = Fake.Requests.Count;
        Fake.ExpiresInSeconds = 3601;

        try
        {
            for (var round = 0; round < 3; round++)
            {
                var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
                {
                    var app = i % 2 == 0 ? first : second;
                    var store = app.Services.GetRequiredService<IChannelStore>();
                    var current = (await store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!;
                    return await app.Services.GetRequiredService<MercadoLivreTokens>().GetAsync(current);
                }));
                Assert.All(results, r => Assert.NotNull(r.AccessToken));
                await Task.Delay(2100);
            }
        }
        finally
        {
            Fake.ExpiresInSeconds = 21600;
        }

        var spent = Fake.RefreshAttempts.Skip(before).ToList();
        Assert.True(spent.Count >= 3, $"Expected a renewal per round, saw {spent.Count}.");
        Assert.Equal(spent.Count, spent.Distinct().Count());
        Assert.DoesNotContain(Fake.Requests.Skip(requestsBefore), r => r.Path == "/oauth/token" && r.Status != 200);
    }

    [Fact]
    public async Task AgentsRepliesSentTogetherAfterTheTokenExpiredAllGoOutOnOneRenewal()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var questions = Enumerable.Range(0, 5).Select(i => Fake.AddQuestion(seller, $"Pergunta {i}?", itemId: $"MLB9{i}")).ToList();
        foreach (var q in questions)
        {
            await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{q.Id}", seller.Id));
        }

        var inbound = new List<Omni.Conversations.Message>();
        foreach (var q in questions)
        {
            inbound.Add(await _app.WaitForInboundAsync(channel, $"question:{q.Id}"));
        }

        // The stored access token is marked as expired: the sends must renew it, once between them.
        await ExpireStoredAccessTokenAsync(channel);
        var before = Fake.RefreshAttempts.Count;
        var accepted = await Task.WhenAll(inbound.Select(async m => (m.ConversationId, Id: (await Arrange.ReadAsync(await _app.ReplyAsync(channel, m.ConversationId, "Sim."), HttpStatusCode.Accepted))["messageId"]!.GetValue<string>())));
        foreach (var (conversation, id) in accepted)
        {
            await _app.WaitForStatusAsync(channel, conversation, id, Omni.Conversations.MessageStatus.Sent);
        }

        Assert.All(questions, q => Assert.Equal("Sim.", q.Answer));
        Assert.Equal(1, Fake.RefreshAttempts.Count - before);
    }

    private async Task ExpireStoredAccessTokenAsync(TestMercadoLivreChannel channel)
    {
        var store = _app.Services.GetRequiredService<IChannelStore>();
        var current = (await store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId))!;
        var stored = store.RevealSecret(current, MercadoLivreTokens.AccessTokenField)!.Split('|', 3);
        await store.UpdateAsync(current, new Dictionary<string, string> { [MercadoLivreTokens.AccessTokenField] = $"{DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds()}|{stored[1]}|{stored[2]}" });
    }
}
