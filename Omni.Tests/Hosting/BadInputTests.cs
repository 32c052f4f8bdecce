using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Omni.Storage;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Hosting;

/// <summary>Whatever a client sends, a JSON route answers a 4xx problem, never a 5xx.</summary>
public sealed class BadInputTests(AzuriteFixture azurite) : IAsyncLifetime
{
    // Redeliver queues a message: on queues of its own, so no test app running its functions takes it.
    private readonly OmniApp _app = new(azurite, IsolatedQueues.Settings());

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static IEnumerable<(string Name, HttpContent Content)> BadBodies()
    {
        yield return ("truncated JSON", new StringContent("{\"name\": \"Ac", Encoding.UTF8, "application/json"));
        yield return ("not JSON", new StringContent("name=Acme", Encoding.UTF8, "application/json"));
        yield return ("an array", new StringContent("[1,2,3]", Encoding.UTF8, "application/json"));
        yield return ("a string", new StringContent("\"Acme\"", Encoding.UTF8, "application/json"));
        yield return ("JSON null", new StringContent("null", Encoding.UTF8, "application/json"));
        yield return ("empty", new StringContent("", Encoding.UTF8, "application/json"));
        yield return ("wrong types", new StringContent("{\"name\": 5, \"type\": [], \"serviceId\": {}, \"settings\": \"x\", \"scopes\": \"all\"}", Encoding.UTF8, "application/json"));
        yield return ("deep nesting", new StringContent(new string('[', 5000) + new string(']', 5000), Encoding.UTF8, "application/json"));
        var badUtf8 = new ByteArrayContent([0x7B, 0x22, 0x6E, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0xFF, 0x22, 0x7D]);
        badUtf8.Headers.ContentType = new("application/json");
        yield return ("bad UTF-8", badUtf8);
        yield return ("text/plain", new StringContent("{\"name\":\"Acme\"}", Encoding.UTF8, "text/plain"));
        yield return ("oversize", new StringContent("{\"name\":\"" + new string('a', 2 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/json"));
    }

    [Fact]
    public async Task MalformedBodiesOnEveryWriteRouteGetAClientErrorProblem()
    {
        var channel = await _app.OmniChannelAsync();
        var now = DateTimeOffset.UtcNow;
        // A real delivery, stored without queueing it, so redeliver runs its handler rather than answering 404.
        var delivery = await _app.Services.GetRequiredService<IWebhookDeliveryStore>().CreateAsync(new WebhookDelivery(
            "msg_" + Ids.ReverseChronological(now) + "00000000badb0d1e", channel.Tenant.CompanyId, channel.ChannelId, WebhookEventTypes.MessageCreated,
            null, null, DeliveryStatus.Failed, 1, 1, null, [], 0, null, null, now, now) { Payload = "{}"u8.ToArray() }, null);
        var values = new Dictionary<string, string>
        {
            ["companyId"] = channel.Tenant.CompanyId,
            ["channelId"] = channel.ChannelId,
            ["deliveryId"] = delivery.Id,
        };
        var routes = RouteCatalog.ApiRoutes(_app).Where(r => r.Method is "POST" or "PUT").ToList();
        var failures = new List<string>();

        foreach (var (method, pattern) in routes)
        {
            foreach (var (name, content) in BadBodies())
            {
                var request = new HttpRequestMessage(new HttpMethod(method), RouteCatalog.Fill(pattern, values)) { Content = content };
                // The integrator routes take only a channel key: with the admin token the body would never be read.
                var client = pattern.StartsWith("/api/receive_hook", StringComparison.Ordinal) || pattern.StartsWith("/api/audit", StringComparison.Ordinal)
                    ? _app.As(channel.ApiKey)
                    : _app.Admin();
                HttpResponseMessage response;
                try
                {
                    response = await client.SendAsync(request);
                }
                catch (HttpRequestException ex)
                {
                    // The server closed the connection instead of answering: as bad as a 5xx, and the route must be named.
                    failures.Add($"{method} {pattern} with {name}: no answer ({ex.InnerException?.Message ?? ex.Message})");
                    continue;
                }

                var status = (int)response.StatusCode;
                // A route that takes no body may accept the request; what must never happen is a 5xx.
                if (status >= 500)
                {
                    failures.Add($"{method} {pattern} with {name}: {status}");
                }
                else if (status >= 400 && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    failures.Add($"{method} {pattern} with {name}: {status} without a problem document");
                }
                else if (status >= 400 && System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())?["detail"] is null)
                {
                    failures.Add($"{method} {pattern} with {name}: {status} problem without a detail");
                }
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public async Task MalformedJsonIsABadRequestThatSaysWhere()
    {
        var response = await _app.Admin().PostAsync("/api/companies", new StringContent("{\"name\": \"Ac", Encoding.UTF8, "application/json"));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnEmptyBodyIsABadRequestThatSaysABodyIsNeeded()
    {
        var response = await _app.Admin().PostAsync("/api/companies", new StringContent("", Encoding.UTF8, "application/json"));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("This operation needs a JSON body.", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AWrongContentTypeIsUnsupportedMediaType()
    {
        var response = await _app.Admin().PostAsync("/api/companies", new StringContent("{\"name\":\"Acme\"}", Encoding.UTF8, "text/plain"));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABodyOverOneMebibyteIsTooLarge()
    {
        var response = await _app.Admin().PostAsync("/api/companies", new StringContent("{\"name\":\"" + new string('a', 1024 * 1024) + "\"}", Encoding.UTF8, "application/json"));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("larger than", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnOversizeBodyWithTheWrongCredentialIsTooLargeRatherThanAResetConnection()
    {
        // The admin token is no bot key: refused before the body is read, the unread 2 MiB made Kestrel reset the connection.
        var response = await _app.Admin().PostAsync("/api/bots/conversations/conv_x/handoff",
            new StringContent("{\"serviceId\":\"" + new string('a', 2 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/json"));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("larger than", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task UnknownFieldsAreIgnored()
    {
        var response = await _app.Admin().PostAsync("/api/companies", new StringContent("{\"name\":\"Acme\",\"color\":\"blue\",\"nested\":{\"a\":[1]}}", Encoding.UTF8, "application/json"));

        await Arrange.ReadAsync(response, HttpStatusCode.Created);
    }

    [Theory]
    [InlineData("bm9zcGFjZQ")] // base64 of text that is no service token
    [InlineData("YSBi")] // base64 of "a b": the service token's shape, keys that exist nowhere
    [InlineData("_____w")] // base64 of bytes that are not UTF-8
    public async Task AForgedContinuationTokenIsABadRequestOrAnEmptyPage(string token)
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/audit/events?continuationToken={token}");

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.OK, $"Got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task AMalformedContinuationTokenIsABadRequest()
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/audit/events?continuationToken=%%%");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
