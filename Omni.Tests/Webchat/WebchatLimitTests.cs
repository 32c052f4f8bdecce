using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>The visitor API's rate limits: per session and per client address, each a 429 problem with Retry-After.</summary>
public sealed class WebchatLimitTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite, new Dictionary<string, string?>
    {
        ["Omni:Webchat:SessionPermitsPerMinute"] = "3",
        ["Omni:Webchat:IpPermitsPerMinute"] = "4",
    });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private HttpClient From(string address, string? sessionToken = null)
    {
        var page = _app.Page(sessionToken: sessionToken);
        page.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        return page;
    }

    [Fact]
    public async Task ASessionOverItsLimitGetsA429WithRetryAfterAndAnotherSessionDoesNot()
    {
        var site = await _app.WebchatAsync();
        var busy = (await Arrange.ReadAsync(await From("203.0.113.10").PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { }), HttpStatusCode.Created))["sessionToken"]!.GetValue<string>();
        var calm = (await Arrange.ReadAsync(await From("203.0.113.11").PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { }), HttpStatusCode.Created))["sessionToken"]!.GetValue<string>();

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            // A new address each time: only the session's own limit can refuse these.
            answers.Add(await From($"198.51.100.{i + 1}", busy).PostAsJsonAsync("/api/webchat/sessions/messages", new { text = $"m{i}" }));
        }

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests], answers.Select(a => a.StatusCode));
        var refused = answers[3];
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(WebchatArrange.ShopOrigin, refused.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal(HttpStatusCode.Accepted, (await From("198.51.100.99", calm).PostAsJsonAsync("/api/webchat/sessions/messages", new { text = "oi" })).StatusCode);
    }

    [Fact]
    public async Task AnAddressOverItsLimitGetsA429AndAnotherAddressDoesNot()
    {
        var site = await _app.WebchatAsync();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await From("192.0.2.77").PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { })).StatusCode);
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Created, 4), HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.Created, (await From("192.0.2.78").PostAsJsonAsync($"/api/webchat/{site.WebsiteToken}/sessions", new { })).StatusCode);
    }

    [Fact]
    public async Task OtherRoutesAreNotLimitedByTheWebchatLimits()
    {
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await From("192.0.2.200").GetAsync("/api/health")).StatusCode);
        }
    }
}
