using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>Sessions expire after Omni:Webchat:SessionIdleTimeout unused; using one keeps it alive.</summary>
public sealed class WebchatSessionExpiryTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly OmniApp _app;

    public WebchatSessionExpiryTests(AzuriteFixture azurite) =>
        _app = new OmniApp(azurite, new Dictionary<string, string?> { ["Omni:Webchat:SessionIdleTimeout"] = "30.00:00:00" },
            services => services.Replace(ServiceDescriptor.Singleton<TimeProvider>(_clock)));

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<HttpStatusCode> ReadThreadAsync(TestVisitor visitor) =>
        (await _app.Page(visitor.Origin, visitor.SessionToken).GetAsync("/api/webchat/sessions/messages")).StatusCode;

    [Fact]
    public async Task ASessionIdleForLongerThanTheTimeoutIsA401AndANewSessionWorks()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        Assert.Equal(HttpStatusCode.OK, await ReadThreadAsync(visitor));

        _clock.Advance(TimeSpan.FromDays(31));

        var expired = await _app.Page(visitor.Origin, visitor.SessionToken).GetAsync("/api/webchat/sessions/messages");
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal("application/problem+json", expired.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, await ReadThreadAsync(await _app.VisitorAsync(site)));
    }

    [Fact]
    public async Task ASessionUsedWithinTheTimeoutStaysAlive()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);

        _clock.Advance(TimeSpan.FromDays(20));
        Assert.Equal(HttpStatusCode.OK, await ReadThreadAsync(visitor));
        _clock.Advance(TimeSpan.FromDays(20));

        Assert.Equal(HttpStatusCode.OK, await ReadThreadAsync(visitor));
    }
}
