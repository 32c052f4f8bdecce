using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Omni.Tests.Webhooks;

public sealed record SinkRequest(int Index, string Path, string? WebhookId, string? Timestamp, string? Signature, string? ContentType, string Body, DateTimeOffset ReceivedAt);

public sealed record SinkReply(int Status, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>An integrator's endpoint: a small Kestrel app on 127.0.0.1 that records every request and answers as told.</summary>
public sealed class WebhookSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SinkRequest> _requests = new();
    private int _count;

    private WebhookSink(WebApplication app) => _app = app;

    /// <summary>What to answer request number n (0-based); 200 by default.</summary>
    public Func<SinkRequest, SinkReply> Respond { get; set; } = _ => new SinkReply(200, "ok");

    /// <summary>How long to wait before answering, so tests can overlap attempts.</summary>
    public TimeSpan ReplyDelay { get; set; }

    public IReadOnlyList<SinkRequest> Requests => [.. _requests.OrderBy(r => r.Index)];

    public string BaseUrl { get; private set; } = "";

    public int Port { get; private set; }

    public string Url(string path = "/hook") => BaseUrl + path;

    public static async Task<WebhookSink> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var sink = new WebhookSink(app);
        app.Run(sink.HandleAsync);
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        sink.Port = address.Port;
        sink.BaseUrl = $"http://127.0.0.1:{address.Port}";
        return sink;
    }

    public async Task<IReadOnlyList<SinkRequest>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            if (_requests.Count >= count)
            {
                return Requests;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"The sink got {_requests.Count} of the {count} requests expected within {(timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds:0.#} s.");
        return [];
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync();
        string? Header(string name) => context.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null;
        var request = new SinkRequest(Interlocked.Increment(ref _count) - 1, context.Request.Path, Header("webhook-id"), Header("webhook-timestamp"),
            Header("webhook-signature"), context.Request.ContentType, body, DateTimeOffset.UtcNow);
        _requests.Enqueue(request);
        if (ReplyDelay > TimeSpan.Zero)
        {
            await Task.Delay(ReplyDelay);
        }

        var reply = Respond(request);
        context.Response.StatusCode = reply.Status;
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (reply.Body is not null)
        {
            await context.Response.WriteAsync(reply.Body);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
