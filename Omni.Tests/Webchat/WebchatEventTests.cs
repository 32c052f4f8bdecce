using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Webchat;

/// <summary>Agents' replies reaching the visitor's event stream: live, after a reconnect, and when another instance sent them.</summary>
public sealed class WebchatEventTests : IAsyncLifetime
{
    private readonly OmniApp _app;

    public WebchatEventTests(AzuriteFixture azurite) =>
        // Runs its own SendOutbound on queues of its own, so agents' replies go through the real transport.
        _app = new OmniApp(azurite, new Dictionary<string, string?>(IsolatedQueues.Settings())
        {
            ["Omni:Triggers:RunLocally"] = "true",
            ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
            ["Omni:Webchat:EventsPollInterval"] = "00:00:00.500",
        });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task<EventStreamReader> OpenAsync(TestVisitor visitor, string? lastEventId = null, bool header = false)
    {
        var client = _app.Page(visitor.Origin);
        var url = "/api/webchat/sessions/events";
        var request = new HttpRequestMessage(HttpMethod.Get, header ? url : url + "?access_token=" + Uri.EscapeDataString(visitor.SessionToken));
        if (header)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", visitor.SessionToken);
        }

        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = new EventStreamReader(response);
        Assert.Equal("ping", (await stream.NextAsync()).Type);
        return stream;
    }

    [Fact]
    public async Task AnAgentsReplyThroughTheConversationsApiReachesTheVisitorsOpenStream()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "Oi");
        await using var stream = await OpenAsync(visitor);

        var messageId = await _app.ReplyAsync(site.Tenant, conversationId, "Olá, Maria! Já vejo seu pedido.");
        var reply = await stream.NextMessageAsync();

        Assert.Equal(messageId, reply.Id);
        Assert.Equal("Olá, Maria! Já vejo seu pedido.", reply.Json["text"]!.GetValue<string>());
        Assert.Equal("agent", reply.Json["from"]!.GetValue<string>());
    }

    [Fact]
    public async Task AReconnectWithLastEventIdGetsWhatWasMissedOnceAndNothingTwice()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "Oi");
        string first;
        await using (var stream = await OpenAsync(visitor, header: true))
        {
            await _app.ReplyAsync(site.Tenant, conversationId, "um");
            first = (await stream.NextMessageAsync()).Id!;
        }

        var second = await _app.ReplyAsync(site.Tenant, conversationId, "dois");
        var third = await _app.ReplyAsync(site.Tenant, conversationId, "três");
        await Eventually.HoldsAsync(async () => (await _app.ThreadAsync(visitor)).Count == 4, "both replies were sent while the visitor was away");
        await using var again = await OpenAsync(visitor, first);

        Assert.Equal(second, (await again.NextMessageAsync()).Id);
        Assert.Equal(third, (await again.NextMessageAsync()).Id);
        var fourth = await _app.ReplyAsync(site.Tenant, conversationId, "quatro");
        Assert.Equal(fourth, (await again.NextMessageAsync()).Id);
    }

    [Fact]
    public async Task AReplySentByAnotherInstanceReachesTheStreamFromTheHistory()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "Oi");
        await using var stream = await OpenAsync(visitor);
        var store = _app.Services.GetRequiredService<IConversationStore>();
        var conversation = await store.GetConversationAsync(site.Tenant.CompanyId, conversationId);

        // Stored and marked sent without this process's transport, as another instance's would be.
        var elsewhere = await store.AppendOutboundAsync(conversation!, "de outra instância", null, []);
        await store.SetStatusAsync(site.Tenant.CompanyId, conversationId, elsewhere.Id, MessageStatus.Sent, null);

        Assert.Equal(elsewhere.Id, (await stream.NextMessageAsync()).Id);
    }

    [Fact]
    public async Task TheVisitorsThreadShowsTheAgentsSentRepliesBesideTheirMessages()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "Oi");

        var reply = await _app.ReplyAsync(site.Tenant, conversationId, "<img src=x onerror=alert(1)>");
        await Eventually.HoldsAsync(async () => (await _app.ThreadAsync(visitor)).Count == 2, "the reply was sent");

        var thread = await _app.ThreadAsync(visitor);
        Assert.Equal(["visitor", "agent"], thread.Select(m => m!["from"]!.GetValue<string>()));
        Assert.Equal(reply, thread[1]!["id"]!.GetValue<string>());
        Assert.Equal("<img src=x onerror=alert(1)>", thread[1]!["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnAgentsReplyWithAnAttachmentReachesTheStreamWithALinkTheVisitorCanDownload()
    {
        var site = await _app.WebchatAsync();
        var visitor = await _app.VisitorAsync(site);
        var conversationId = await _app.SayAsync(visitor, "Oi");
        await using var stream = await OpenAsync(visitor);
        var content = "segunda via do boleto"u8.ToArray();

        await Arrange.ReadAsync(await _app.As(site.Tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{site.Tenant.CompanyId}/conversations/{conversationId}/messages",
            new { text = "Segue o boleto", attachments = new[] { new { fileName = "boleto.txt", contentType = "text/plain", contentBase64 = Convert.ToBase64String(content) } } }), HttpStatusCode.Accepted);
        var reply = await stream.NextMessageAsync();

        var listed = Assert.Single(reply.Json["attachments"]!.AsArray())!;
        Assert.Equal("boleto.txt", listed["fileName"]!.GetValue<string>());
        Assert.Equal(content.Length, listed["size"]!.GetValue<long>());
        var download = await _app.Page(visitor.Origin, visitor.SessionToken).GetAsync(listed["url"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(content, await download.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
    }
}
