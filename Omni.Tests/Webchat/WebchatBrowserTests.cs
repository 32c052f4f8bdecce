using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>
/// The widget in a real browser: Debian's Chromium, driven by Playwright, on a page of a shop that pastes the
/// snippet. Chromium resolves shop.test and evil.test to this machine, so the page's origin is a real other origin.
/// </summary>
public sealed class WebchatBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private readonly OmniApp _app;
    private readonly int _pagePort = Repository.FreeTcpPort();
    private WebApplication? _pages;
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private TestWebchat _site = null!;

    public WebchatBrowserTests(AzuriteFixture azurite) =>
        _app = new OmniApp(azurite, new Dictionary<string, string?>(IsolatedQueues.Settings())
        {
            ["Omni:Triggers:RunLocally"] = "true",
            ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
        });

    private string ShopOrigin => $"http://shop.test:{_pagePort}";

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            Assert.Fail($"The browser tests need Chromium at {Chromium}: install it with scripts/install-browser.sh (apt-get install chromium).");
        }

        _app.StartServer();
        _site = await _app.WebchatAsync(origin: ShopOrigin, welcomeText: "Olá! Como podemos ajudar?");
        _pages = StartPages();
        await _pages.StartAsync();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // Root in a container has no user namespace for Chromium's sandbox.
            Args = ["--no-sandbox", "--host-resolver-rules=MAP shop.test 127.0.0.1, MAP evil.test 127.0.0.1"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_pages is not null)
        {
            await _pages.DisposeAsync();
        }

        await _app.DisposeAsync();
    }

    /// <summary>The shop's page: the snippet docs/webchat.md tells a site owner to paste, and nothing else.</summary>
    private WebApplication StartPages()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, _pagePort));
        var pages = builder.Build();
        var snippet = $"<script src=\"{_app.BaseAddress}api/webchat/{_site.WebsiteToken}/widget.js\" async></script>";
        pages.MapGet("/", () => Results.Content($"<!doctype html><html><head><title>Loja</title></head><body><h1>Loja</h1>{snippet}</body></html>", "text/html; charset=utf-8"));
        return pages;
    }

    private async Task<IPage> OpenAsync(string origin, string locale = "en-US")
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions { Locale = locale });
        var page = await context.NewPageAsync();
        await page.GotoAsync(origin + "/");
        return page;
    }

    private static async Task StartChatAsync(IPage page)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Open chat" }).ClickAsync();
        await page.GetByLabel("Name").FillAsync("Maria");
        await page.GetByLabel("E-mail").FillAsync("maria@example.com");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start chat" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Message")).ToBeVisibleAsync();
    }

    private async Task<Conversation> ConversationWithAsync(string text) =>
        await Eventually.ValueAsync(async () =>
        {
            var store = _app.Services.GetRequiredService<IConversationStore>();
            foreach (var c in (await store.ListConversationsAsync(_site.Tenant.CompanyId, new ConversationFilter(_site.ChannelId), 50, null)).Items)
            {
                if ((await store.ListMessagesAsync(_site.Tenant.CompanyId, c.Id, 100, null)).Items.Any(m => m.Text == text))
                {
                    return c;
                }
            }

            return null;
        }, $"the visitor's message '{text}' is in a conversation");

    [Fact]
    public async Task AVisitorsMessageReachesTheConversationAndTheAgentsReplyAppearsInThePageAsText()
    {
        var page = await OpenAsync(ShopOrigin);
        await StartChatAsync(page);
        await Assertions.Expect(page.GetByText("Olá! Como podemos ajudar?")).ToBeVisibleAsync();

        await page.GetByLabel("Message").FillAsync("Meu pedido não chegou");
        await page.GetByLabel("Message").PressAsync("Enter");
        var conversation = await ConversationWithAsync("Meu pedido não chegou");
        Assert.Equal("Maria", conversation.Contact.Name);
        Assert.Equal("maria@example.com", conversation.Contact.Email);

        const string hostile = "<img src=x onerror=\"window.pwned=1\">Já vou verificar";
        await _app.ReplyAsync(_site.Tenant, conversation.Id, hostile);
        var reply = page.Locator("li.agent");
        await Assertions.Expect(reply).ToHaveTextAsync(hostile);
        Assert.Equal(0, await page.Locator("[data-omni-webchat] img").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => window.pwned === undefined"));
    }

    [Fact]
    public async Task AnAttachedFileIsSentAndShownAsALinkAndAnOversizedOneIsRefusedInThePage()
    {
        var page = await OpenAsync(ShopOrigin);
        await StartChatAsync(page);
        await page.GetByLabel("Message").FillAsync("Segue o comprovante");
        await page.GetByLabel("Message").PressAsync("Enter");
        var conversation = await ConversationWithAsync("Segue o comprovante");

        await page.GetByLabel("Attach a file").SetInputFilesAsync(new FilePayload { Name = "big.png", MimeType = "image/png", Buffer = new byte[512 * 1024 + 1] });
        await Assertions.Expect(page.GetByText("File too large (at most 512 KB).")).ToBeVisibleAsync();
        await page.GetByLabel("Attach a file").SetInputFilesAsync(new FilePayload { Name = "<b>recibo.pdf", MimeType = "application/pdf", Buffer = "%PDF-1.4"u8.ToArray() });

        await Assertions.Expect(page.Locator("li.visitor a.attachment")).ToHaveTextAsync("<b>recibo.pdf (1 KB)");
        var stored = await Eventually.ValueAsync(async () =>
            (await _app.Services.GetRequiredService<IConversationStore>().ListMessagesAsync(_site.Tenant.CompanyId, conversation.Id, 10, null)).Items.FirstOrDefault(m => m.Attachments.Count > 0),
            "the attachment is stored in the conversation");
        Assert.Equal(["<b>recibo.pdf"], stored.Attachments.Select(a => a.FileName));
        Assert.DoesNotContain(stored.Attachments, a => a.FileName == "big.png");
        Assert.Equal(0, await page.Locator("[data-omni-webchat] b").CountAsync());
    }

    [Fact]
    public async Task AReloadKeepsTheThread()
    {
        var page = await OpenAsync(ShopOrigin);
        await StartChatAsync(page);
        await page.GetByLabel("Message").FillAsync("Antes de recarregar");
        await page.GetByLabel("Message").PressAsync("Enter");
        var conversation = await ConversationWithAsync("Antes de recarregar");
        await _app.ReplyAsync(_site.Tenant, conversation.Id, "Resposta antes de recarregar");
        await Assertions.Expect(page.Locator("li.agent")).ToHaveTextAsync("Resposta antes de recarregar");

        await page.ReloadAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Open chat" }).ClickAsync();

        await Assertions.Expect(page.Locator("li.visitor")).ToHaveTextAsync("Antes de recarregar");
        await Assertions.Expect(page.Locator("li.agent")).ToHaveTextAsync("Resposta antes de recarregar");
        await _app.ReplyAsync(_site.Tenant, conversation.Id, "Depois de recarregar");
        await Assertions.Expect(page.Locator("li.agent")).ToHaveTextAsync(["Resposta antes de recarregar", "Depois de recarregar"]);
    }

    [Fact]
    public async Task APageOfADisallowedOriginIsRefused()
    {
        var page = await OpenAsync($"http://evil.test:{_pagePort}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Open chat" }).ClickAsync();
        await page.GetByLabel("Name").FillAsync("Mallory");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start chat" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Could not send. Please try again.");
        Assert.Null(await page.EvaluateAsync<string?>($"() => localStorage.getItem('omni-webchat:{_site.WebsiteToken}')"));
        // The page's own fetch is answered 403 without Access-Control-Allow-Origin, so the browser does not let it read anything.
        var own = await page.EvaluateAsync<string>($"() => fetch('{_app.BaseAddress}api/webchat/{_site.WebsiteToken}/sessions', {{ method: 'POST', headers: {{ 'Content-Type': 'application/json' }}, body: '{{}}' }}).then(r => 'read ' + r.status, () => 'blocked')");
        Assert.Equal("blocked", own);
        var direct = await _app.Anonymous().SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/api/webchat/{_site.WebsiteToken}/sessions")
        {
            Headers = { { "Origin", $"http://evil.test:{_pagePort}" } },
            Content = JsonContent.Create(new { name = "Mallory" }),
        });
        Assert.Equal(HttpStatusCode.Forbidden, direct.StatusCode);
    }

    [Fact]
    public async Task TheWidgetSpeaksPortugueseToAPortugueseBrowser()
    {
        var page = await OpenAsync(ShopOrigin, "pt-BR");

        await page.GetByRole(AriaRole.Button, new() { Name = "Abrir chat" }).ClickAsync();

        await Assertions.Expect(page.GetByLabel("Nome")).ToBeFocusedAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Iniciar conversa" })).ToBeVisibleAsync();
    }
}
