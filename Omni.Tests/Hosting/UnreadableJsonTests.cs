using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Hosting;

/// <summary>
/// Bodies that parse as JSON but cannot be read back as text (bad UTF-8, lone surrogates) or hold a key twice:
/// a 400 problem naming the field, whichever route and however deep, never a 500.
/// </summary>
public sealed class UnreadableJsonTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static ByteArrayContent Bytes(params byte[][] parts)
    {
        var content = new ByteArrayContent(parts.SelectMany(p => p).ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    /// <summary>A receive hook, valid but for the metadata object given as raw bytes.</summary>
    private async Task<HttpResponseMessage> ReceiveWithMetadataAsync(params byte[][] metadata)
    {
        var channel = await _app.OmniChannelAsync();
        return await _app.As(channel.ApiKey).PostAsync("/api/receive_hook",
            Bytes([Utf8("{\"externalId\":\"e1\",\"contact\":{\"externalId\":\"c1\"},\"text\":\"hi\",\"metadata\":"), .. metadata, Utf8("}")]));
    }

    private static async Task AssertBadRequestAtAsync(HttpResponseMessage response, string field, string says)
    {
        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(says, problem["detail"]!.GetValue<string>());
        Assert.Contains(field, problem["detail"]!.GetValue<string>());
        Assert.Contains(says, problem["errors"]![field]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task LoneSurrogatesInReceiveHookMetadataAreABadRequest()
    {
        var response = await ReceiveWithMetadataAsync(Utf8("{\"order\":\"\\ud800\"}"));

        await AssertBadRequestAtAsync(response, "metadata.order", "lone surrogate");
    }

    [Fact]
    public async Task InvalidUtf8InReceiveHookMetadataIsABadRequest()
    {
        var response = await ReceiveWithMetadataAsync(Utf8("{\"order\":\"a"), [0xC3, 0x28], Utf8("\"}"));

        await AssertBadRequestAtAsync(response, "metadata.order", "not valid UTF-8");
    }

    [Fact]
    public async Task DuplicateKeysInReceiveHookMetadataAreABadRequest()
    {
        var response = await ReceiveWithMetadataAsync(Utf8("{\"order\":\"1\",\"order\":\"2\"}"));

        await AssertBadRequestAtAsync(response, "metadata.order", "more than once");
    }

    [Fact]
    public async Task DuplicateKeysInChannelSettingsAreABadRequest()
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/channels",
            Json($"{{\"type\":\"omni\",\"name\":\"ERP\",\"serviceId\":\"{tenant.ServiceId}\",\"settings\":{{\"webhookUrl\":\"https://a.example.com/h\",\"webhookUrl\":\"https://b.example.com/h\"}}}}"));

        await AssertBadRequestAtAsync(response, "settings.webhookUrl", "more than once");
    }

    [Fact]
    public async Task LoneSurrogatesDeepInChannelSettingsOnPostAreABadRequest()
    {
        var tenant = await _app.TenantAsync();

        var response = await _app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/channels",
            Json($"{{\"type\":\"email\",\"name\":\"Mail\",\"serviceId\":\"{tenant.ServiceId}\",\"settings\":{{\"address\":\"a@acme.com.br\",\"password\":\"p\","
                + "\"incoming\":{\"protocol\":\"imap\",\"host\":\"imap\\udc00.acme.com.br\",\"port\":993,\"ssl\":true},\"outgoing\":{\"host\":\"smtp.acme.com.br\",\"port\":465,\"ssl\":true}}}"));

        await AssertBadRequestAtAsync(response, "settings.incoming.host", "lone surrogate");
    }

    [Fact]
    public async Task InvalidUtf8InChannelSettingsOnPutIsABadRequest()
    {
        var channel = await _app.OmniChannelAsync();

        var response = await _app.As(channel.Tenant.ManagementKey).PutAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}",
            Bytes(Utf8($"{{\"name\":\"ERP\",\"serviceId\":\"{channel.Tenant.ServiceId}\",\"settings\":{{\"webhookUrl\":\"https://erp.example.com/"), [0xED, 0xA0, 0x80], Utf8("\"}}")));

        await AssertBadRequestAtAsync(response, "settings.webhookUrl", "not valid UTF-8");
    }

    [Fact]
    public async Task DuplicateKeysInChannelSettingsOnPutAreABadRequest()
    {
        var channel = await _app.OmniChannelAsync();

        var response = await _app.As(channel.Tenant.ManagementKey).PutAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}",
            Json($"{{\"name\":\"ERP\",\"serviceId\":\"{channel.Tenant.ServiceId}\",\"settings\":{{\"webhookUrl\":\"https://erp.example.com/a\",\"webhookUrl\":\"https://erp.example.com/b\"}}}}"));

        await AssertBadRequestAtAsync(response, "settings.webhookUrl", "more than once");
    }

    [Fact]
    public async Task AnOverlongEncodingInAFieldTheApiIgnoresIsStillABadRequest()
    {
        // "/" written in two bytes: a classic way past filters that look for the one-byte form.
        var response = await _app.Admin().PostAsync("/api/companies", Bytes(Utf8("{\"name\":\"Acme\",\"extra\":{\"path\":[\"a"), [0xC0, 0xAF], Utf8("\"]}}")));

        await AssertBadRequestAtAsync(response, "extra.path[0]", "not valid UTF-8");
    }

    [Fact]
    public async Task AKeyTwiceAtTheTopLevelIsABadRequest()
    {
        var response = await _app.Admin().PostAsync("/api/companies", Json("{\"name\":\"Acme\",\"name\":\"Evil\"}"));

        await AssertBadRequestAtAsync(response, "name", "more than once");
    }

    [Fact]
    public async Task ANumberTooLargeForADoubleInReceiveHookMetadataIsABadRequest()
    {
        var response = await ReceiveWithMetadataAsync(Utf8("{\"total\":1e400}"));

        await AssertBadRequestAtAsync(response, "metadata.total", "too large");
    }

    [Fact]
    public async Task ACharsetDotNetDoesNotKnowIsUnsupportedMediaType()
    {
        var content = Json("{\"name\":\"Acme\"}");
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=klingon");

        var response = await _app.Admin().PostAsync("/api/companies", content);

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("UTF-8", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task BytesThatAreNotTheDeclaredCharsetAreABadRequest()
    {
        // An odd number of bytes cannot be UTF-16; the binder would have replaced the last one silently.
        var content = new ByteArrayContent([.. Encoding.Unicode.GetBytes("{\"name\":\"Acme\"}"), 0x41]);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-16");

        var response = await _app.Admin().PostAsync("/api/companies", content);

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid utf-16", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task SurrogatePairsByteOrderMarksAndOtherCharsetsAreStillAccepted()
    {
        var channel = await _app.OmniChannelAsync();
        var hook = await _app.As(channel.ApiKey).PostAsync("/api/receive_hook", Bytes([0xEF, 0xBB, 0xBF],
            Utf8("{\"externalId\":\"e1\",\"contact\":{\"externalId\":\"c1\",\"name\":\"Zoë \\ud83d\\ude00 😀\"},\"text\":\"olá\",\"metadata\":{\"emoji\":\"\\ud83d\\ude00\"}}")));
        var utf16 = new ByteArrayContent(Encoding.Unicode.GetBytes("{\"name\":\"Açaí\"}"));
        utf16.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=utf-16");

        var company = await _app.Admin().PostAsync("/api/companies", utf16);

        var message = await Arrange.ReadAsync(hook, HttpStatusCode.Accepted);
        Assert.NotNull(message["messageId"]);
        Assert.Equal("Açaí", (await Arrange.ReadAsync(company, HttpStatusCode.Created))["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACallerWithoutACredentialHearsUnauthorizedWhateverTheBody()
    {
        var response = await _app.Anonymous().PostAsync("/api/companies", Json("{\"name\":\"\\ud800\",\"name\":1}"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task ARouteThatTakesNoBodyIgnoresAnUnreadableOne()
    {
        var channel = await _app.OmniChannelAsync();

        var response = await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/webhook-secret/rotate", Json("{\"a\":\"\\ud800\",\"a\":1}"));

        await Arrange.ReadAsync(response, HttpStatusCode.OK);
    }
}
