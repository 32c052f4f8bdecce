using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Omni.MercadoLivre;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MercadoLivre;

/// <summary>The notifications endpoint, the notification key, missed feeds, the seller's consent, and other companies' channels.</summary>
public sealed class MercadoLivreNotificationTests(AzuriteFixture azurite, MercadoLivreFixture ml) : IClassFixture<MercadoLivreFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = ml.CreateApp(azurite);

    private FakeMercadoLivre Fake => ml.Fake;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task TheCreateResponseShowsTheNotificationKeyAndTheWholeUrlOnceAndNoSecretAfter()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);

        Assert.StartsWith(channel.ChannelId + ".", channel.NotificationKey, StringComparison.Ordinal);
        Assert.Equal($"{_app.Anonymous().BaseAddress!.GetLeftPart(UriPartial.Authority)}/api/providers/mercadolivre/notifications?key={Uri.EscapeDataString(channel.NotificationKey)}", channel.NotificationUrl);
        var read = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}"), HttpStatusCode.OK);
        var text = read.ToJsonString();
        Assert.Null(read["notificationKey"]);
        Assert.True(read["settings"]!["notificationKeySet"]!.GetValue<bool>());
        Assert.True(read["settings"]!["refreshTokenSet"]!.GetValue<bool>());
        Assert.DoesNotContain(channel.NotificationKey.Split('.')[1], text);
        Assert.DoesNotContain(seller.RefreshToken, text);
        Assert.DoesNotContain("ml-client-secret", text);
    }

    [Fact]
    public async Task ANotificationWithAWrongOrMissingKeyIsUnauthorizedAndStoresNothing()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, "Chave errada?");
        var body = MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id);

        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.NotifyAsync(channel.ChannelId + ".wrong", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.NotifyAsync("chn_unknown.secret", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.NotifyAsync(channel.NotificationKey.Split('.')[1], body)).StatusCode);
        var missing = await _app.Anonymous().PostAsync("/api/providers/mercadolivre/notifications", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _app.NotifyAsync(channel.NotificationKey, new System.Text.Json.Nodes.JsonObject { ["topic"] = "questions" })).StatusCode);

        // The same notification with the right key goes through: only the key was wrong.
        Assert.Equal(HttpStatusCode.OK, (await _app.NotifyAsync(channel.NotificationKey, body)).StatusCode);
        await _app.WaitForInboundAsync(channel, $"question:{question.Id}");
        Assert.Single(Fake.Requests, r => r.Path == $"/questions/{question.Id}");
    }

    [Fact]
    public async Task ANotificationKeyOfOneCompanyNeverReachesAnotherCompanysSeller()
    {
        var ours = await _app.MercadoLivreChannelAsync(Fake.AddSeller());
        var theirSeller = Fake.AddSeller();
        var theirs = await _app.MercadoLivreChannelAsync(theirSeller);
        var question = Fake.AddQuestion(theirSeller, "De outra empresa?");

        Assert.Equal(HttpStatusCode.OK, (await _app.NotifyAsync(ours.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", theirSeller.Id))).StatusCode);
        // Their own key is how their notifications come; once that one is stored, ours was handled before it.
        var other = Fake.AddQuestion(theirSeller, "Pela chave certa?");
        await _app.NotifyAsync(theirs.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{other.Id}", theirSeller.Id));
        await _app.WaitForInboundAsync(theirs, $"question:{other.Id}");

        Assert.DoesNotContain(Fake.Requests, r => r.Path == $"/questions/{question.Id}");
        Assert.Empty(await _app.InboundAsync(ours));
    }

    [Fact]
    public async Task AnotherCompanysChannelIsNotFoundForAuthorizeAndItsConversationsForReplies()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, "Só minha?");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));
        var inbound = await _app.WaitForInboundAsync(channel, $"question:{question.Id}");
        var intruder = await _app.TenantAsync("Intruso");

        var client = _app.As(intruder.ManagementKey);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/companies/{intruder.CompanyId}/channels/{channel.ChannelId}/mercadolivre/authorize")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsJsonAsync($"/api/companies/{intruder.CompanyId}/conversations/{inbound.ConversationId}/messages", new { text = "Oi" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/companies/{intruder.CompanyId}/channels/{channel.ChannelId}/test", null)).StatusCode);
        Assert.NotEqual(HttpStatusCode.OK, (await client.GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/mercadolivre/authorize")).StatusCode);
        Assert.Null(question.Answer);
    }

    [Fact]
    public async Task TheMissedFeedsTimerRecoversANotificationThatNeverArrivedAndOneThatDidIsNotProcessedAgain()
    {
        var seller = Fake.AddSeller();
        var clientId = "77" + Random.Shared.Next(10_000_000, 99_999_999);
        var channel = await _app.MercadoLivreChannelAsync(seller, clientId: clientId);
        var delivered = Fake.AddQuestion(seller, "Esta chegou?");
        var lost = Fake.AddQuestion(seller, "Esta se perdeu?");
        var deliveredNotification = MercadoLivreArrange.Notification("questions", $"/questions/{delivered.Id}", seller.Id);
        await _app.NotifyAsync(channel.NotificationKey, deliveredNotification);
        await _app.WaitForInboundAsync(channel, $"question:{delivered.Id}");
        Fake.MissedFeeds[clientId] = [deliveredNotification.DeepClone(), MercadoLivreArrange.Notification("questions", $"/questions/{lost.Id}", seller.Id)];

        await _app.Services.GetRequiredService<MercadoLivreMissedFeeds>().SweepAsync();
        await _app.WaitForInboundAsync(channel, $"question:{lost.Id}");

        Assert.Contains(Fake.Requests, r => r.Path == "/missed_feeds" && r.Query == $"?app_id={clientId}");
        Assert.Single(Fake.Requests, r => r.Path == $"/questions/{delivered.Id}");
    }

    [Fact]
    public async Task TheSellersConsentStoresTheirTokensAndItsStateWorksOnce()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        seller.RefreshToken = "TG-revoked-" + Guid.NewGuid().ToString("N");
        Assert.False((await _app.TestChannelAsync(channel))["ok"]!.GetValue<bool>());

        var authorize = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/mercadolivre/authorize"), HttpStatusCode.OK);
        var url = new Uri(authorize["url"]!.GetValue<string>());
        var query = System.Web.HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("/authorization", url.AbsolutePath);
        Assert.Equal(("code", channel.ClientId), (query["response_type"], query["client_id"]));
        Assert.EndsWith("/api/providers/mercadolivre/oauth/callback", query["redirect_uri"], StringComparison.Ordinal);
        var code = "TG-code-" + Guid.NewGuid().ToString("N");
        Fake.Codes[code] = seller.Id;

        var callback = $"/api/providers/mercadolivre/oauth/callback?code={code}&state={query["state"]}";
        Assert.Equal(HttpStatusCode.OK, (await _app.Anonymous().GetAsync(callback)).StatusCode);
        Fake.Codes[code] = seller.Id;
        Assert.Equal(HttpStatusCode.BadRequest, (await _app.Anonymous().GetAsync(callback)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _app.Anonymous().GetAsync($"/api/providers/mercadolivre/oauth/callback?code={code}&state=forged")).StatusCode);

        var report = await _app.TestChannelAsync(channel);
        Assert.True(report["ok"]!.GetValue<bool>(), report.ToJsonString());
    }
}
