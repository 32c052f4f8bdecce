using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Credentials;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>POST /api/receive_hook over HTTP on Azurite: storing, idempotency, routing, validation, attachments and access.</summary>
public sealed class ReceiveHookTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    internal static object Body(string externalId, string contact = "cust-42", string? text = "My order did not arrive", string? conversationExternalId = null, object? attachments = null) =>
        new { externalId, contact = new { externalId = contact, name = "Maria", email = "maria@example.com", phone = "+5511999990000" }, conversationExternalId, text, attachments, metadata = new { orderId = "123" } };

    private Task<HttpResponseMessage> PostAsync(string key, object body) => _app.As(key).PostAsJsonAsync("/api/receive_hook", body);

    private async Task<JsonArray> HistoryAsync(TestOmniChannel channel, string conversationId) =>
        (await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/messages"), HttpStatusCode.OK))["items"]!.AsArray();

    [Fact]
    public async Task AMessageIsStoredAndAcceptedWithItsIds()
    {
        var channel = await _app.OmniChannelAsync();

        var accepted = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-4711")), HttpStatusCode.Accepted);

        Assert.Equal("accepted", accepted["status"]!.GetValue<string>());
        var conversationId = accepted["conversationId"]!.GetValue<string>();
        var message = Assert.Single(await HistoryAsync(channel, conversationId))!;
        Assert.Equal(accepted["messageId"]!.GetValue<string>(), message["id"]!.GetValue<string>());
        Assert.Equal("My order did not arrive", message["text"]!.GetValue<string>());
        Assert.Equal("inbound", message["direction"]!.GetValue<string>());
        Assert.Equal("erp-4711", message["externalId"]!.GetValue<string>());
        Assert.Equal("123", message["metadata"]!["orderId"]!.GetValue<string>());
        var list = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations?channelId={channel.ChannelId}&contactExternalId=cust-42&status=open"), HttpStatusCode.OK);
        var conversation = Assert.Single(list["items"]!.AsArray())!;
        Assert.Equal(conversationId, conversation["id"]!.GetValue<string>());
        Assert.Equal("Maria", conversation["contact"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheKeyMayTravelAsXApiKey()
    {
        var channel = await _app.OmniChannelAsync();
        var client = _app.Anonymous();
        client.DefaultRequestHeaders.Add("X-Api-Key", channel.ApiKey);

        var response = await client.PostAsJsonAsync("/api/receive_hook", Body("erp-1"));

        await Arrange.ReadAsync(response, HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task TheSameExternalIdWithTheSameBodyAnswersOkWithTheFirstIds()
    {
        var channel = await _app.OmniChannelAsync();
        var first = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-1")), HttpStatusCode.Accepted);
        // The same meaning in another key order and spacing is the same body.
        var reordered = "{ \"text\": \"My order did not arrive\", \"metadata\": {\"orderId\": \"123\"}, \"externalId\": \"erp-1\",\n" +
                        "  \"contact\": {\"phone\": \"+5511999990000\", \"email\": \"maria@example.com\", \"name\": \"Maria\", \"externalId\": \"cust-42\"} }";

        var again = await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsync("/api/receive_hook", new StringContent(reordered, Encoding.UTF8, "application/json")), HttpStatusCode.OK);

        Assert.Equal(first["messageId"]!.GetValue<string>(), again["messageId"]!.GetValue<string>());
        Assert.Equal(first["conversationId"]!.GetValue<string>(), again["conversationId"]!.GetValue<string>());
        Assert.Single(await HistoryAsync(channel, first["conversationId"]!.GetValue<string>()));
    }

    [Fact]
    public async Task TheSameExternalIdWithAnotherBodyIsUnprocessable()
    {
        var channel = await _app.OmniChannelAsync();
        var first = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-1")), HttpStatusCode.Accepted);

        var problem = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-1", text: "Something else")), HttpStatusCode.UnprocessableEntity);

        Assert.Contains("different body", problem["detail"]!.GetValue<string>());
        Assert.Single(await HistoryAsync(channel, first["conversationId"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ConcurrentDuplicatesNeverCreateTwoMessages()
    {
        var channel = await _app.OmniChannelAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => PostAsync(channel.ApiKey, Body("erp-race")))));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Accepted);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{(int)r.StatusCode}"));
        var ids = await Task.WhenAll(responses.Select(async r => JsonNode.Parse(await r.Content.ReadAsStringAsync())!["messageId"]!.GetValue<string>()));
        Assert.Single(ids.Distinct());
        var conversationId = JsonNode.Parse(await responses[0].Content.ReadAsStringAsync())!["conversationId"]!.GetValue<string>();
        Assert.Single(await HistoryAsync(channel, conversationId));
    }

    [Fact]
    public async Task AKeyStillInFlightAnswersConflict()
    {
        var channel = await _app.OmniChannelAsync();
        // Another request has reserved this key and is uploading its attachments.
        await _app.Services.GetRequiredService<IConversationStore>().ReserveAsync(channel.Tenant.CompanyId, channel.ChannelId, "erp-slow", "hash");

        var response = await PostAsync(channel.ApiKey, Body("erp-slow", attachments: new[] { new { fileName = "a.txt", contentType = "text/plain", contentBase64 = "aGVsbG8=" } }));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.Conflict);
        Assert.Contains("still being processed", problem["detail"]!.GetValue<string>());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task AContactsMessagesShareItsOpenConversationUntilItCloses()
    {
        var channel = await _app.OmniChannelAsync();
        var first = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-1")), HttpStatusCode.Accepted);
        var second = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-2")), HttpStatusCode.Accepted);
        var conversationId = first["conversationId"]!.GetValue<string>();

        await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}/close", null), HttpStatusCode.OK);
        var third = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-3")), HttpStatusCode.Accepted);

        Assert.Equal(conversationId, second["conversationId"]!.GetValue<string>());
        Assert.NotEqual(conversationId, third["conversationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task AConversationExternalIdNamesTheConversationItOpens()
    {
        var channel = await _app.OmniChannelAsync();

        var first = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-1", contact: "cust-1", conversationExternalId: "ticket-9")), HttpStatusCode.Accepted);
        var other = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-2", contact: "cust-2", conversationExternalId: "ticket-9")), HttpStatusCode.Accepted);

        var conversationId = first["conversationId"]!.GetValue<string>();
        Assert.Equal(conversationId, other["conversationId"]!.GetValue<string>());
        var conversation = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync($"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}"), HttpStatusCode.OK);
        Assert.Equal("ticket-9", conversation["externalId"]!.GetValue<string>());
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { "{\"contact\": {\"externalId\": \"c\"}, \"text\": \"t\"}", "externalId" },
        { "{\"externalId\": \"\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\"}", "externalId" },
        { "{\"externalId\": \"" + new string('x', 201) + "\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\"}", "externalId" },
        { "{\"externalId\": \"e\", \"text\": \"t\"}", "contact" },
        { "{\"externalId\": \"e\", \"contact\": {}, \"text\": \"t\"}", "contact.externalId" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\", \"email\": \"not-an-address\"}, \"text\": \"t\"}", "contact.email" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}}", "text" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"   \"}", "text" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\", \"conversationExternalId\": \"" + new string('x', 201) + "\"}", "conversationExternalId" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\", \"metadata\": {\"a\": {\"nested\": 1}}}", "metadata.a" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\", \"metadata\": {\"a\": \"" + new string('x', 1001) + "\"}}", "metadata.a" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\", \"metadata\": " + AccentedMetadata(50) + "}", "metadata" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"contentType\": \"text/plain\", \"contentBase64\": \"aGk=\"}]}", "attachments[0].fileName" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"fileName\": \"x.txt\", \"contentType\": \"text/plain; x=" + new string('a', 200) + "\", \"contentBase64\": \"aGk=\"}]}", "attachments[0].contentType" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"fileName\": \"../x\", \"contentType\": \"text/plain\", \"contentBase64\": \"aGk=\"}]}", "attachments[0].fileName" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"fileName\": \"x.svg\", \"contentType\": \"image/svg+xml\", \"contentBase64\": \"aGk=\"}]}", "attachments[0].contentType" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"fileName\": \"x.exe\", \"contentType\": \"application/x-msdownload\", \"contentBase64\": \"aGk=\"}]}", "attachments[0].contentType" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"fileName\": \"x.txt\", \"contentType\": \"text/plain\", \"contentBase64\": \"not base64!\"}]}", "attachments[0].contentBase64" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [{\"fileName\": \"x.txt\", \"contentType\": \"text/plain\"}]}", "attachments[0].contentBase64" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [null]}", "attachments[0]" },
        { "{\"externalId\": \"e\", \"contact\": {\"externalId\": \"c\"}, \"attachments\": [" + string.Join(",", Enumerable.Repeat("{\"fileName\": \"x.txt\", \"contentType\": \"text/plain\", \"contentBase64\": \"aGk=\"}", 11)) + "]}", "attachments" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task EachValidationRuleAnswersABadRequestNamingTheField(string body, string field)
    {
        var channel = await _app.OmniChannelAsync();

        var response = await _app.As(channel.ApiKey).PostAsync("/api/receive_hook", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.True(problem["errors"]![field] is not null, $"Expected an error for {field}: {problem.ToJsonString()}");
    }

    /// <summary>Entries each within the per-entry limits, whose characters take more than one byte once stored.</summary>
    private static string AccentedMetadata(int entries) =>
        "{" + string.Join(",", Enumerable.Range(0, entries).Select(i => $"\"k{i}\": \"{new string('ç', 1000)}\"")) + "}";

    [Fact]
    public async Task AccentedMetadataWithinTheTotalLimitIsStoredAndReadBack()
    {
        var channel = await _app.OmniChannelAsync();
        var body = "{\"externalId\": \"erp-meta\", \"contact\": {\"externalId\": \"c\"}, \"text\": \"t\", \"metadata\": " + AccentedMetadata(25) + "}";

        var accepted = await Arrange.ReadAsync(await _app.As(channel.ApiKey).PostAsync("/api/receive_hook", new StringContent(body, Encoding.UTF8, "application/json")), HttpStatusCode.Accepted);

        var metadata = (await HistoryAsync(channel, accepted["conversationId"]!.GetValue<string>()))[0]!["metadata"]!.AsObject();
        Assert.Equal(25, metadata.Count);
        Assert.Equal(new string('ç', 1000), metadata["k24"]!.GetValue<string>());
    }

    [Fact]
    public async Task TextTooLongIsABadRequest()
    {
        var channel = await _app.OmniChannelAsync();

        var problem = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("e", text: new string('a', 100_001))), HttpStatusCode.BadRequest);

        Assert.NotNull(problem["errors"]!["text"]);
    }

    [Fact]
    public async Task AttachmentsLandInBlobStorageAndTheMessageKeepsTheirReference()
    {
        var channel = await _app.OmniChannelAsync();
        var pdf = Encoding.ASCII.GetBytes("%PDF-1.4 invoice " + new string('x', 3000));

        var accepted = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-att", text: null, attachments: new[]
        {
            new { fileName = "invoice.pdf", contentType = "application/pdf", contentBase64 = Convert.ToBase64String(pdf) },
            new { fileName = "photo.jpg", contentType = "image/jpeg", contentBase64 = Convert.ToBase64String([0xFF, 0xD8, 0xFF, 0xE0]) },
        })), HttpStatusCode.Accepted);

        var stored = await _app.Services.GetRequiredService<IConversationStore>().GetMessageAsync(
            channel.Tenant.CompanyId, accepted["conversationId"]!.GetValue<string>(), accepted["messageId"]!.GetValue<string>());
        Assert.Equal(["invoice.pdf", "photo.jpg"], stored!.Attachments.Select(a => a.FileName));
        var container = new BlobServiceClient(_app.StorageConnectionString).GetBlobContainerClient("attachments");
        var blob = await container.GetBlobClient(stored.Attachments[0].BlobName).DownloadContentAsync();
        Assert.Equal(pdf, blob.Value.Content.ToArray());
        Assert.Equal("application/pdf", blob.Value.Details.ContentType);
        Assert.StartsWith($"{channel.Tenant.CompanyId}/{channel.ChannelId}/", stored.Attachments[0].BlobName);
        var history = await HistoryAsync(channel, accepted["conversationId"]!.GetValue<string>());
        Assert.Equal(pdf.Length, history[0]!["attachments"]![0]!["size"]!.GetValue<long>());
        Assert.Null(history[0]!["attachments"]![0]!["blobName"]);
    }

    [Fact]
    public async Task AnAttachmentOverTheLimitIsTooLarge()
    {
        var channel = await _app.OmniChannelAsync();

        var response = await PostAsync(channel.ApiKey, Body("erp-big", attachments: new[]
        {
            new { fileName = "big.bin", contentType = "application/octet-stream", contentBase64 = Convert.ToBase64String(new byte[600 * 1024]) },
        }));

        var problem = await Arrange.ReadAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.NotNull(problem["errors"]!["attachments[0].contentBase64"]);
    }

    [Fact]
    public async Task ABodyOverOneMebibyteIsATooLargeProblem()
    {
        var channel = await _app.OmniChannelAsync();

        var response = await PostAsync(channel.ApiKey, Body("erp-huge", text: new string('a', 1024 * 1024 + 10)));

        await Arrange.ReadAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task MalformedBodiesAreClientErrorProblems()
    {
        var channel = await _app.OmniChannelAsync();
        var badUtf8 = new ByteArrayContent([0x7B, 0x22, 0x65, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0xFF, 0x22, 0x7D]);
        badUtf8.Headers.ContentType = new("application/json");
        var cases = new (HttpContent Content, HttpStatusCode Expected)[]
        {
            (new StringContent("{\"externalId\": \"e", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest),
            (new StringContent("{\"externalId\": 5, \"contact\": \"c\"}", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest),
            (new StringContent("[]", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest),
            (new StringContent("null", Encoding.UTF8, "application/json"), HttpStatusCode.BadRequest),
            (badUtf8, HttpStatusCode.BadRequest),
            (new StringContent("{\"externalId\": \"e\"}", Encoding.UTF8, "text/plain"), HttpStatusCode.UnsupportedMediaType),
        };

        foreach (var (content, expected) in cases)
        {
            var response = await _app.As(channel.ApiKey).PostAsync("/api/receive_hook", content);
            Assert.Equal(expected, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        }
    }

    [Fact]
    public async Task ADeletedChannelsKeyIsUnauthorized()
    {
        var channel = await _app.OmniChannelAsync();
        await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-0")), HttpStatusCode.Accepted);
        await _app.As(channel.Tenant.ManagementKey).DeleteAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}");

        var response = await PostAsync(channel.ApiKey, Body("erp-1"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AKeyOfAChannelThatIsNotOmniGetsNoAccess()
    {
        var tenant = await _app.TenantAsync();
        var webchat = await _app.ChannelAsync(tenant, "webchat", new { allowedOrigins = new[] { "https://shop.example.com" } });
        // The API refuses to issue such a key; one made underneath it must still be useless.
        var issued = await _app.Services.GetRequiredService<ICredentialStore>().CreateChannelKeyAsync(tenant.CompanyId, webchat["id"]!.GetValue<string>(), "forged");

        var response = await PostAsync(issued.Secret, Body("erp-1"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task ManagementKeysAndMissingKeysCannotUseReceiveHook()
    {
        var channel = await _app.OmniChannelAsync();

        var management = await PostAsync(channel.Tenant.ManagementKey, Body("erp-1"));
        var anonymous = await _app.Anonymous().PostAsJsonAsync("/api/receive_hook", Body("erp-1"));
        var wrong = await PostAsync("omni_ck_" + new string('a', 40), Body("erp-1"));

        Assert.Equal(HttpStatusCode.Forbidden, management.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }

    [Fact]
    public async Task TheSameExternalIdOnAnotherChannelIsAnotherMessage()
    {
        var channel = await _app.OmniChannelAsync();
        var other = await _app.OmniChannelAsync(channel.Tenant);

        var first = await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-1")), HttpStatusCode.Accepted);
        var second = await Arrange.ReadAsync(await PostAsync(other.ApiKey, Body("erp-1")), HttpStatusCode.Accepted);

        Assert.NotEqual(first["messageId"]!.GetValue<string>(), second["messageId"]!.GetValue<string>());
        Assert.NotEqual(first["conversationId"]!.GetValue<string>(), second["conversationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task NoLogLineCarriesTheKeyOrTheMessageText()
    {
        var channel = await _app.OmniChannelAsync();

        await Arrange.ReadAsync(await PostAsync(channel.ApiKey, Body("erp-secret", text: "confidential-text-7f3a")), HttpStatusCode.Accepted);

        Assert.DoesNotContain(_app.Logs.Lines, l => l.Contains(channel.ApiKey, StringComparison.Ordinal) || l.Contains("confidential-text-7f3a", StringComparison.Ordinal));
    }
}
