using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>Attachments in the visitor API: sent within receive_hook's limits, listed in the thread, downloadable by their own visitor only.</summary>
public sealed class WebchatAttachmentTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static readonly byte[] Receipt = "%PDF-1.4 comprovante"u8.ToArray();

    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static object Message(string? text, string fileName, string contentType, byte[] content) =>
        new { text, attachments = new[] { new { fileName, contentType, contentBase64 = Convert.ToBase64String(content) } } };

    [Fact]
    public async Task AVisitorsAttachmentIsListedInTheThreadAndOnlyTheirSessionCanDownloadIt()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var page = _app.Page(visitor.Origin, visitor.SessionToken);

        await Arrange.ReadAsync(await page.PostAsJsonAsync("/api/webchat/sessions/messages", Message(null, "comprovante.pdf", "application/pdf", Receipt)), HttpStatusCode.Accepted);

        var listed = Assert.Single((await _app.ThreadAsync(visitor))[0]!["attachments"]!.AsArray())!;
        Assert.Equal("comprovante.pdf", listed["fileName"]!.GetValue<string>());
        Assert.Equal("application/pdf", listed["contentType"]!.GetValue<string>());
        Assert.Equal(Receipt.Length, listed["size"]!.GetValue<long>());
        var url = listed["url"]!.GetValue<string>();
        var download = await page.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(Receipt, await download.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        Assert.Equal("application/pdf", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);

        var other = await _app.VisitorAsync(site);
        Assert.Equal(HttpStatusCode.NotFound, (await _app.Page(other.Origin, other.SessionToken).GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await page.GetAsync(url[..^1] + "1")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.Page(visitor.Origin).GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task AnAttachmentOverReceiveHooksSizeIsA413AndABrowserRunnableTypeIsA400()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var page = _app.Page(visitor.Origin, visitor.SessionToken);

        var tooLarge = await page.PostAsJsonAsync("/api/webchat/sessions/messages", Message("foto", "foto.jpg", "image/jpeg", new byte[512 * 1024 + 1]));
        var html = await page.PostAsJsonAsync("/api/webchat/sessions/messages", Message("oi", "page.html", "text/html", "<script>alert(1)</script>"u8.ToArray()));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Equal("application/problem+json", tooLarge.Content.Headers.ContentType?.MediaType);
        var problem = await Arrange.ReadAsync(html, HttpStatusCode.BadRequest);
        Assert.NotNull(problem["errors"]!["attachments[0].contentType"]);
        Assert.Empty(await _app.ThreadAsync(visitor));
    }
}
