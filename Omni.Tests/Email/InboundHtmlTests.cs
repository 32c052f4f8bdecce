using System.Text;
using Azure.Storage.Blobs;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// Inbound mail's HTML is stored and served with nothing that could run in an agent's browser, while the raw MIME in
/// Blob Storage stays exactly what the server gave (real Dovecot, Azurite, the public API).
/// </summary>
public sealed class InboundHtmlTests(AzuriteFixture azurite, MailServerFixture mail) : IAsyncLifetime
{
    /// <summary>An HTML body with a script, an event handler, a javascript: link, a frame and a form, beside what must stay.</summary>
    public const string HostileHtml =
        "<html><head><style>body{display:none}</style></head><body>" +
        "<p style=\"color: red\">Olá, segue a foto</p><script>alert(1)</script>" +
        "<img src=\"cid:foto@cliente\" onerror=\"alert(2)\">" +
        "<a href=\"javascript:alert(3)\">clique</a> <a href=\"https://loja.example/pedido\">pedido</a>" +
        "<iframe src=\"https://evil.example\"></iframe><form action=\"https://evil.example\"><input name=\"senha\"></form>" +
        "</body></html>";

    private MailServerProcess _servers = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _app = new OmniApp(azurite, EmailArrange.Settings(_servers));
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    /// <summary>What agents get: the hostile parts gone, the formatting, cid: image and plain links kept.</summary>
    internal static void AssertSafe(string html)
    {
        foreach (var dropped in (string[])["<script", "onerror", "javascript:", "alert", "<iframe", "<form", "<input", "<style", "display"])
        {
            Assert.DoesNotContain(dropped, html, StringComparison.OrdinalIgnoreCase);
        }

        foreach (var kept in (string[])["Olá, segue a foto", "color: rgba(255, 0, 0, 1)", "src=\"cid:foto@cliente\"", "href=\"https://loja.example/pedido\"", "clique"])
        {
            Assert.Contains(kept, html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ScriptsEventHandlersAndJavascriptLinksAreGoneFromTheMessageHtmlWhileTheArchivedMimeIsByteIdentical()
    {
        var tenant = await _app.TenantAsync();
        var mailbox = _servers.NewMailbox();
        var channelId = await _app.EmailChannelAsync(tenant, EmailArrange.ImapSettings(_servers, mailbox));
        var raw = Encoding.UTF8.GetBytes(
            $"From: Ana <ana@{MailServerProcess.CustomerDomain}>\r\nTo: {mailbox.Address}\r\nSubject: Foto do pedido\r\n" +
            $"Message-ID: <{Guid.NewGuid():N}@{MailServerProcess.CustomerDomain}>\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + HostileHtml + "\r\n");
        await RawImap.AppendAsync(_servers, mailbox, raw);

        Assert.Equal(1, (await _app.PollAsync(tenant, channelId)).Ingested);

        var message = Assert.Single(await _app.AllMessagesAsync(tenant, channelId));
        AssertSafe(message["html"]!.GetValue<string>());
        Assert.DoesNotContain("alert", message["text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(raw, await ArchivedRawAsync(_app, tenant.CompanyId, channelId));
    }

    [Fact]
    public void HtmlDeeperOrLongerThanTheBoundIsCutBeforeTheSanitizerParsesIt()
    {
        var deep = string.Concat(Enumerable.Repeat("<div>", 100_000)) + "fim" + "<script>alert(1)</script>";

        var clean = InboundHtml.Sanitize(deep);

        Assert.True(clean.Split("<div>").Length - 1 <= MailText.MaxDepth, $"{clean.Split("<div>").Length - 1} <div> kept");
        Assert.DoesNotContain("<script", clean, StringComparison.Ordinal);
    }

    /// <summary>The one raw MIME blob stored for the channel, as bytes.</summary>
    internal static async Task<byte[]> ArchivedRawAsync(OmniApp app, string companyId, string channelId)
    {
        var blobs = new BlobContainerClient(app.StorageConnectionString, MailArchive.Container);
        var names = new List<string>();
        await foreach (var blob in blobs.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"{companyId}/{channelId}/", CancellationToken.None))
        {
            names.Add(blob.Name);
        }

        var name = Assert.Single(names, n => n.EndsWith("/message.eml", StringComparison.Ordinal));
        return (await blobs.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToArray();
    }
}
