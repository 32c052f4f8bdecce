using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Benchmarks.Meta;

/// <summary>
/// The one Graph route a WhatsApp text send uses, <c>POST {phoneNumberId}/messages</c>, over HTTPS signed by the
/// benchmark's in-memory CA, answering as the Cloud API does. The tests' FakeMeta does far more (tokens, media,
/// templates, failures); a send benchmark needs only an answer that is cheap and always the same.
/// </summary>
internal sealed class FakeMetaGraph(WebApplication app) : IAsyncDisposable
{
    private int _sends;

    public int Sends => Volatile.Read(ref _sends);

    /// <summary>What <c>Omni__Meta__GraphBaseUrl</c> is set to.</summary>
    public string GraphBaseUrl { get; private set; } = "";

    public static async Task<FakeMetaGraph> StartAsync(TestCertificateAuthority authority)
    {
        var web = LocalHttpsServer.Create(authority);
        var fake = new FakeMetaGraph(web);
        web.MapPost("/v23.0/{phoneNumberId}/messages", async (HttpRequest request) =>
        {
            var body = await JsonNode.ParseAsync(request.Body);
            Interlocked.Increment(ref fake._sends);
            var to = body?["to"]?.GetValue<string>() ?? "";
            return Results.Json(new JsonObject
            {
                ["messaging_product"] = "whatsapp",
                ["contacts"] = new JsonArray(new JsonObject { ["input"] = to, ["wa_id"] = to }),
                ["messages"] = new JsonArray(new JsonObject { ["id"] = "wamid.HBgN" + Guid.NewGuid().ToString("N") }),
            });
        });
        fake.GraphBaseUrl = (await LocalHttpsServer.StartAsync(web)) + "v23.0";
        return fake;
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
