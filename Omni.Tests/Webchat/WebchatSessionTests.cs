using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Security;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>The visitor API's sessions, identity verification, messages, thread, origins and tenancy (§11).</summary>
public sealed class WebchatSessionTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private IConversationStore Conversations => _app.Services.GetRequiredService<IConversationStore>();

    [Fact]
    public async Task AWebchatChannelShowsItsWebsiteTokenAlwaysAndItsIdentitySecretOnlyInTheCreateResponse()
    {
        var site = await _app.WebchatAsync();

        Assert.StartsWith("wct_", site.WebsiteToken, StringComparison.Ordinal);
        Assert.StartsWith("wcid_", site.IdentitySecret, StringComparison.Ordinal);
        var read = await Arrange.ReadAsync(await _app.As(site.Tenant.ManagementKey).GetAsync($"/api/companies/{site.Tenant.CompanyId}/channels/{site.ChannelId}"), HttpStatusCode.OK);
        Assert.Null(read["identitySecret"]);
        Assert.DoesNotContain(site.IdentitySecret, read.ToJsonString(), StringComparison.Ordinal);
        Assert.True(read["settings"]!["identitySecretSet"]!.GetValue<bool>());
        Assert.Equal(site.WebsiteToken, read["settings"]!["websiteToken"]!.GetValue<string>());
        var stored = await _app.Services.GetRequiredService<IChannelStore>().GetAsync(site.Tenant.CompanyId, site.ChannelId);
        Assert.DoesNotContain(site.IdentitySecret, string.Concat(stored!.ProtectedSecrets.Values), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AVisitorsMessageIsStoredInTheContactsOpenConversationBeforeThe202()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);

        var first = await _app.SayAsync(visitor, "Oi, meu pedido não chegou");
        var second = await _app.SayAsync(visitor, "É o pedido 123");

        Assert.Equal(first, second);
        var conversation = await Conversations.GetConversationAsync(site.Tenant.CompanyId, first);
        Assert.Equal(site.ChannelId, conversation!.ChannelId);
        Assert.Equal(visitor.ContactId, conversation.Contact.ExternalId);
        Assert.Equal("Maria", conversation.Contact.Name);
        var history = await Conversations.ListMessagesAsync(site.Tenant.CompanyId, first, 10, null);
        Assert.Equal(["Oi, meu pedido não chegou", "É o pedido 123"], history.Items.Select(m => m.Text));
    }

    [Fact]
    public async Task AReturningVisitorWithTheSameSessionTokenFindsTheThreadAndTheOpenConversation()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        await _app.SayAsync(visitor, "primeira");
        await _app.SayAsync(visitor, "segunda");

        var thread = await _app.ThreadAsync(visitor);

        Assert.Equal(["primeira", "segunda"], thread.Select(m => m!["text"]!.GetValue<string>()));
        Assert.All(thread, m => Assert.Equal("visitor", m!["from"]!.GetValue<string>()));
        var after = await _app.ThreadAsync(visitor, thread[0]!["id"]!.GetValue<string>());
        Assert.Equal(["segunda"], after.Select(m => m!["text"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ARetriedSendWithTheSameClientMessageIdIsStoredOnce()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var page = _app.Page(visitor.Origin, visitor.SessionToken);

        var first = await Arrange.ReadAsync(await page.PostAsJsonAsync("/api/webchat/sessions/messages", new { text = "oi", clientMessageId = "c-1" }), HttpStatusCode.Accepted);
        var again = await Arrange.ReadAsync(await page.PostAsJsonAsync("/api/webchat/sessions/messages", new { text = "oi", clientMessageId = "c-1" }), HttpStatusCode.Accepted);

        Assert.Equal(first["messageId"]!.GetValue<string>(), again["messageId"]!.GetValue<string>());
        Assert.Single(await _app.ThreadAsync(visitor));
    }

    [Fact]
    public async Task AVerifiedVisitorIsTheContactNamedByUserIdAndFindsTheirThreadFromAnotherSession()
    {
        var site = await _app.WebchatAsync(requireIdentity: true);
        var identity = new { userId = "cliente-42", userHash = WebchatArrange.UserHash("cliente-42", site.IdentitySecret) };

        var visitor = await _app.VisitorAsync(site, identity);
        await _app.SayAsync(visitor, "pelo celular");
        var laptop = await _app.VisitorAsync(site, identity);

        Assert.Equal("cliente-42", visitor.ContactId);
        Assert.Equal(["pelo celular"], (await _app.ThreadAsync(laptop)).Select(m => m!["text"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AWrongUserHashIsRefusedAndSoIsAVisitorWithoutIdentityWhenTheChannelRequiresIt()
    {
        var site = await _app.WebchatAsync(requireIdentity: true);
        var page = _app.Page();
        var wrong = WebchatArrange.UserHash("cliente-42", site.IdentitySecret + "x");

        var forged = await page.PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { userId = "cliente-42", userHash = wrong });
        var anonymous = await page.PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { name = "Maria" });
        var otherUser = await page.PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions",
            new { userId = "cliente-43", userHash = WebchatArrange.UserHash("cliente-42", site.IdentitySecret) });

        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, otherUser.StatusCode);
        Assert.Equal("application/problem+json", forged.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AUserIdWithoutItsHashIsABadRequestEvenWhenIdentityIsOptional()
    {
        var site = await _app.WebchatAsync();

        var response = await _app.Page().PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { userId = "cliente-42" });

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.NotNull(problem["errors"]!["userHash"]);
    }

    [Fact]
    public async Task ThePageOfAnAllowedOriginIsAnsweredWithItsOriginAndAnyOtherOriginIs403()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);

        var allowed = await _app.Page(WebchatArrange.ShopOrigin, visitor.SessionToken).GetAsync("/api/webchat/sessions/messages");
        var otherSession = await _app.Page("https://evil.example.net").PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { name = "x" });
        var otherRead = await _app.Page("https://evil.example.net", visitor.SessionToken).GetAsync("/api/webchat/sessions/messages");
        var otherWidget = await _app.Page("https://evil.example.net").GetAsync($"/api/webchat/{site.WebsiteToken}/widget.js");

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(WebchatArrange.ShopOrigin, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        foreach (var refused in new[] { otherSession, otherRead, otherWidget })
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task APreflightIsAnsweredForTheHeadersTheWidgetSends()
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/api/webchat/sessions/messages");
        request.Headers.Add("Origin", WebchatArrange.ShopOrigin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");

        var response = await _app.Anonymous().SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Contains("Authorization", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.Ordinal);
        Assert.Equal(WebchatArrange.ShopOrigin, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task TheWidgetIsServedAsJavaScriptWithTheSitesSettingsEscaped()
    {
        var site = await _app.WebchatAsync(welcomeText: "</script><img src=x onerror=alert(1)>");

        var response = await _app.Anonymous().GetAsync($"/api/webchat/{site.WebsiteToken}/widget.js");
        var script = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(site.WebsiteToken, script, StringComparison.Ordinal);
        Assert.DoesNotContain("</script>", script, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("innerHTML", script, StringComparison.Ordinal);
        Assert.Contains("attachShadow", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWrongMissingOrRevokedCredentialIsRefused()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);

        var none = await _app.Page().GetAsync("/api/webchat/sessions/messages");
        var wrong = await _app.Page(sessionToken: "omni_wcs_" + new string('a', 43)).GetAsync("/api/webchat/sessions/messages");
        var managementKey = await _app.Page(sessionToken: site.Tenant.ManagementKey).GetAsync("/api/webchat/sessions/messages");
        var badToken = await _app.Page().PostAsJsonAsync("/api/webchat/wct_nope/sessions", new { name = "x" });
        await _app.As(site.Tenant.ManagementKey).DeleteAsync($"/api/companies/{site.Tenant.CompanyId}/channels/{site.ChannelId}");
        var deletedSite = await _app.Page().PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { name = "x" });
        var deletedSession = await _app.Page(sessionToken: visitor.SessionToken).PostAsJsonAsync("/api/webchat/sessions/messages", new { text = "oi" });

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, managementKey.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, badToken.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, deletedSite.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, deletedSession.StatusCode);
    }

    [Fact]
    public async Task AnotherKindsChannelIdAsWebsiteTokenIsNotFoundAndAnotherCompanyCannotReadTheVisitorsConversation()
    {
        var site = await _app.WebchatAsync();
        var omni = await _app.OmniChannelAsync(site.Tenant);
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "oi");
        var other = await _app.TenantAsync("Other");

        var omniAsSite = await _app.Page().GetAsync($"/api/webchat/{Omni.Webchat.WebsiteToken.For(omni.ChannelId)}/widget.js");
        var otherRead = await _app.As(other.ManagementKey).GetAsync($"/api/companies/{other.CompanyId}/conversations/{conversationId}/messages");
        var otherReply = await _app.As(other.ManagementKey).PostAsJsonAsync($"/api/companies/{other.CompanyId}/conversations/{conversationId}/messages", new { text = "x" });

        Assert.Equal(HttpStatusCode.NotFound, omniAsSite.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherRead.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, otherReply.StatusCode);
    }

    [Fact]
    public async Task TheSessionTokenIsStoredOnlyAsItsHash()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);

        var table = new Azure.Data.Tables.TableClient(_app.StorageConnectionString, Omni.Webchat.WebchatSessionStore.Table);
        var row = await table.GetEntityAsync<Azure.Data.Tables.TableEntity>(TokenHash.Of(visitor.SessionToken), "");

        Assert.DoesNotContain(visitor.SessionToken, string.Join("|", row.Value.Select(p => $"{p.Key}={p.Value}")), StringComparison.Ordinal);
    }
}
