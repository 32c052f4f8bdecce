using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;
using Omni.Voice;
using static Omni.Tests.Voice.CallArrange;

namespace Omni.Tests.Voice;

/// <summary>
/// Calls end to end against a local HTTPS server speaking ACS Call Automation's REST API and checking each request's
/// HMAC signature: the IncomingCall answered with the call's callback URL, then each documented callback event posted
/// back to that URL moving the call through the IVR (welcome inside the menu, digit, transfer; closed; unanswered),
/// every call recorded in /calls.
/// </summary>
public sealed class CallTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private AcsTestHost _host = null!;

    private FakeAcs Acs => _host.Acs;

    private OmniApp App => _host.App;

    public async ValueTask InitializeAsync() => _host = await AcsTestHost.StartAsync(azurite);

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task AnEventGridSubscriptionIsValidatedByEchoingItsCodeAndACloudEventsOneByAllowingItsOrigin()
    {
        var validation = new JsonArray(new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["topic"] = "/subscriptions/x/resourceGroups/omni/providers/Microsoft.Communication/CommunicationServices/omni",
            ["subject"] = "",
            ["eventType"] = "Microsoft.EventGrid.SubscriptionValidationEvent",
            ["eventTime"] = DateTimeOffset.UtcNow.ToString("O"),
            ["data"] = new JsonObject { ["validationCode"] = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", ["validationUrl"] = "https://rp-eastus2.eventgrid.azure.net/api/subscriptions/x/validate?code=y" },
            ["dataVersion"] = "2",
            ["metadataVersion"] = "1",
        });

        var validated = await Arrange.ReadAsync(await App.Anonymous().PostAsJsonAsync("/api/providers/acs/events", validation), HttpStatusCode.OK);
        var options = await App.Anonymous().SendAsync(new HttpRequestMessage(HttpMethod.Options, "/api/providers/acs/events") { Headers = { { "WebHook-Request-Origin", "eventgrid.azure.net" } } });

        Assert.Equal("512d38b6-c7b8-40c8-89fe-f46f9e9622b6", validated["validationResponse"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, options.StatusCode);
        Assert.Equal("eventgrid.azure.net", options.Headers.GetValues("WebHook-Allowed-Origin").Single());
        Assert.Empty(Acs.Requests);
    }

    [Fact]
    public async Task AnOpenCallPlaysTheWelcomeInsideTheMenuAndTransfersTheDigitToTheServicesVoiceTarget()
    {
        var setup = await App.CallSetupAsync();

        var call = await App.RingAsync(Acs, setup, OpenInstant);
        var answer = Acs.For(call.CallConnectionId).Single();
        Assert.Equal($"/calling/callConnections:answer?api-version={AcsCallAutomation.ApiVersion}", answer.PathAndQuery);
        Assert.StartsWith("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=", answer.Authorization, StringComparison.Ordinal);
        Assert.Equal("omni.example.com", call.Callback.Host);
        Assert.Matches("^/api/providers/acs/callbacks/call_[0-9a-f]{32}$", call.Callback.AbsolutePath);
        Assert.Matches("^\\?secret=[A-Za-z0-9_-]{43}$", call.Callback.Query);

        Assert.Equal(HttpStatusCode.OK, (await App.CallbackAsync(call, "CallConnected")).StatusCode);
        var menu = Acs.For(call.CallConnectionId).Last();
        Assert.Equal("recognize", menu.Operation);
        Assert.Equal("dtmf", menu.Body["recognizeInputType"]!.GetValue<string>());
        Assert.Equal("text", menu.Body["playPrompt"]!["kind"]!.GetValue<string>());
        Assert.Equal("Bem-vindo à Acme.", menu.Body["playPrompt"]!["text"]!["text"]!.GetValue<string>());
        Assert.Equal("pt-BR-FranciscaNeural", menu.Body["playPrompt"]!["text"]!["voiceName"]!.GetValue<string>());
        Assert.Equal(1, menu.Body["recognizeOptions"]!["dtmfOptions"]!["maxTonesToCollect"]!.GetValue<int>());
        Assert.True(menu.Body["recognizeOptions"]!["interruptPrompt"]!.GetValue<bool>());
        Assert.Equal(call.Caller, menu.Body["recognizeOptions"]!["targetParticipant"]!["phoneNumber"]!["value"]!.GetValue<string>());
        var during = await App.CallRecordAsync(call);
        Assert.Null(during["outcome"]);
        Assert.Null(during["endedAt"]);

        await App.CallbackAsync(call, "RecognizeCompleted", Tone(menu.Body["operationContext"]!.GetValue<string>(), "one"));
        var transfer = Acs.For(call.CallConnectionId).Last();
        Assert.Equal("transferToParticipant", transfer.Operation);
        Assert.Equal("phoneNumber", transfer.Body["targetParticipant"]!["kind"]!.GetValue<string>());
        Assert.Equal(setup.VoiceTarget, transfer.Body["targetParticipant"]!["phoneNumber"]!["value"]!.GetValue<string>());

        await App.CallbackAsync(call, "CallTransferAccepted", Context(transfer.Body["operationContext"]!.GetValue<string>()));
        await App.CallbackAsync(call, "CallDisconnected");

        Assert.Equal(["answer", "recognize", "transferToParticipant"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        var record = await App.CallRecordAsync(call);
        Assert.Equal("transferred", record["outcome"]!.GetValue<string>());
        Assert.Equal("1", record["digits"]!.GetValue<string>());
        Assert.Equal(setup.Tenant.ServiceId, record["serviceId"]!.GetValue<string>());
        Assert.Equal(setup.IvrId, record["ivrId"]!.GetValue<string>());
        Assert.Equal(setup.Number, record["to"]!.GetValue<string>());
        Assert.Equal(OpenInstant, record["startedAt"]!.GetValue<DateTimeOffset>());
        Assert.NotNull(record["endedAt"]);
        Assert.Equal(0, Acs.Refused);
    }

    [Fact]
    public async Task AClosedCallPlaysTheClosedMessageAndHangsUp()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), ClosedInstant);

        await App.CallbackAsync(call, "CallConnected");
        var play = Acs.For(call.CallConnectionId).Last();
        Assert.Equal("play", play.Operation);
        Assert.Equal("Estamos fechados.", play.Body["playSources"]![0]!["text"]!["text"]!.GetValue<string>());
        await App.CallbackAsync(call, "PlayCompleted", Context(play.Body["operationContext"]!.GetValue<string>()));

        Assert.Equal(["answer", "play", "terminate"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        var record = await App.CallRecordAsync(call);
        Assert.Equal("closed", record["outcome"]!.GetValue<string>());
        Assert.Equal("", record["digits"]!.GetValue<string>());
        Assert.Null(record["serviceId"]);
    }

    [Fact]
    public async Task AFailedTransferPlaysTheUnansweredMessageAndHangsUp()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), OpenInstant);
        await App.CallbackAsync(call, "CallConnected");
        await App.CallbackAsync(call, "RecognizeCompleted", Tone(Last(call), "one"));

        await App.CallbackAsync(call, "CallTransferFailed", Failure(Last(call), 500, 7000, "The target did not answer."));
        var play = Acs.For(call.CallConnectionId).Last();
        Assert.Equal("play", play.Operation);
        Assert.Equal("Ninguém pôde atender.", play.Body["playSources"]![0]!["text"]!["text"]!.GetValue<string>());
        Assert.Equal("pt-BR-AntonioNeural", play.Body["playSources"]![0]!["text"]!["voiceName"]!.GetValue<string>());
        await App.CallbackAsync(call, "PlayCompleted", Context(Last(call)));

        Assert.Equal(["answer", "recognize", "transferToParticipant", "play", "terminate"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        var record = await App.CallRecordAsync(call);
        Assert.Equal("unanswered", record["outcome"]!.GetValue<string>());
        Assert.Equal("1", record["digits"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACallerWhoHangsUpMidMenuIsRecordedAsAbandonedAndLaterEventsChangeNothing()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), OpenInstant);
        await App.CallbackAsync(call, "CallConnected");
        var menu = Last(call);

        await App.CallbackAsync(call, "CallDisconnected");
        await App.CallbackAsync(call, "RecognizeFailed", Failure(menu, 400, 8510, "Action failed, initial silence timeout reached."));

        Assert.Equal(["answer", "recognize"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        var record = await App.CallRecordAsync(call);
        Assert.Equal("abandoned", record["outcome"]!.GetValue<string>());
        Assert.NotNull(record["endedAt"]);
    }

    [Fact]
    public async Task ADigitNotInTheMenuOffersTheMenuOnceMoreThenTheUnansweredMessage()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), OpenInstant);
        await App.CallbackAsync(call, "CallConnected");
        var first = Last(call);

        await App.CallbackAsync(call, "RecognizeCompleted", Tone(first, "nine"));
        var second = Last(call);
        Assert.NotEqual(first, second);
        Assert.Equal("recognize", Acs.For(call.CallConnectionId).Last().Operation);
        await App.CallbackAsync(call, "RecognizeFailed", Failure(second, 400, 8510, "Action failed, initial silence timeout reached."));
        await App.CallbackAsync(call, "PlayCompleted", Context(Last(call)));

        Assert.Equal(["answer", "recognize", "recognize", "play", "terminate"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        Assert.Equal("Ninguém pôde atender.", Acs.For(call.CallConnectionId).Single(r => r.Operation == "play").Body["playSources"]![0]!["text"]!["text"]!.GetValue<string>());
        var record = await App.CallRecordAsync(call);
        Assert.Equal("unanswered", record["outcome"]!.GetValue<string>());
        Assert.Equal("9", record["digits"]!.GetValue<string>());
        Assert.Null(record["serviceId"]);
    }

    [Fact]
    public async Task DuplicatedAndOutOfOrderEventsMoveTheCallOnlyOnce()
    {
        var setup = await App.CallSetupAsync();
        var call = await App.RingAsync(Acs, setup, OpenInstant);
        // Event Grid delivers the same IncomingCall again: it is not answered twice.
        var again = IncomingCall(setup.Number, call.Caller, OpenInstant, call.CorrelationId);
        Assert.Equal(HttpStatusCode.OK, (await App.Anonymous().PostAsJsonAsync("/api/providers/acs/events", again)).StatusCode);

        await Task.WhenAll(App.CallbackAsync(call, "CallConnected"), App.CallbackAsync(call, "CallConnected"));
        var menu = Last(call);
        await Task.WhenAll(App.CallbackAsync(call, "RecognizeCompleted", Tone(menu, "one")), App.CallbackAsync(call, "RecognizeCompleted", Tone(menu, "one")));
        // A late failure of the menu already answered, and our leg's disconnection before the transfer's acceptance.
        await App.CallbackAsync(call, "RecognizeFailed", Failure(menu, 400, 8510, "Action failed, initial silence timeout reached."));
        await App.CallbackAsync(call, "CallDisconnected");
        await App.CallbackAsync(call, "CallTransferAccepted", Context(Last(call)));
        await App.CallbackAsync(call, "CallTransferAccepted", Context(Last(call)));
        await App.CallbackAsync(call, "PlayCompleted", Context("unanswered"));

        Assert.Equal(["answer", "recognize", "transferToParticipant"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        Assert.Single(Acs.Requests, r => r.Operation == "answer" && r.Body["incomingCallContext"]!.GetValue<string>().EndsWith(call.CorrelationId, StringComparison.Ordinal));
        var record = await App.CallRecordAsync(call);
        Assert.Equal("transferred", record["outcome"]!.GetValue<string>());
        Assert.Equal("1", record["digits"]!.GetValue<string>());
    }

    [Fact]
    public async Task ACallbackWithAWrongSecretCallIdOrCallConnectionIsUnauthorizedAndChangesNothing()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), OpenInstant);
        var path = call.Callback.AbsolutePath;
        var otherCall = path[..^4] + "beef";

        var answers = new Dictionary<string, HttpResponseMessage>
        {
            ["wrong secret"] = await App.CallbackAsync(call, "CallConnected", pathAndQuery: path + "?secret=" + new string('A', 43)),
            ["no secret"] = await App.CallbackAsync(call, "CallConnected", pathAndQuery: path),
            ["another call id"] = await App.CallbackAsync(call, "CallConnected", pathAndQuery: otherCall + call.Callback.Query),
            ["not a call id"] = await App.CallbackAsync(call, "CallConnected", pathAndQuery: "/api/providers/acs/callbacks/ivr_x" + call.Callback.Query),
            ["another call connection"] = await App.CallbackAsync(call, "CallConnected", callConnectionId: "conn-not-this-one"),
        };
        var unreadable = await App.Anonymous().PostAsync(call.Callback.PathAndQuery, new StringContent("{\"type\": ", System.Text.Encoding.UTF8, "application/json"));

        Assert.All(answers, a => Assert.True(a.Value.StatusCode == HttpStatusCode.Unauthorized, $"{a.Key}: {(int)a.Value.StatusCode}"));
        Assert.All(answers, a => Assert.Equal("application/problem+json", a.Value.Content.Headers.ContentType?.MediaType));
        Assert.Equal(HttpStatusCode.BadRequest, unreadable.StatusCode);
        Assert.Equal(["answer"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        Assert.DoesNotContain(Acs.Requests, r => r.CallConnectionId == "conn-not-this-one");
        // The right secret still moves it.
        await App.CallbackAsync(call, "CallConnected");
        Assert.Equal(["answer", "recognize"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        Assert.DoesNotContain(App.Logs.Lines, l => l.Contains(call.Callback.Query[8..], StringComparison.Ordinal) || l.Contains(Acs.AccessKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnAudioWelcomeIsPlayedAsAFileSourceWhoseShortLivedReadOnlyUrlDownloadsTheClipFromAzurite()
    {
        var setup = await App.CallSetupAsync(audio: async tenant =>
            (await Arrange.ReadAsync(await App.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(0.5))), HttpStatusCode.Created))["audioId"]!.GetValue<string>());
        var audioId = (await Arrange.ReadAsync(await App.As(setup.Tenant.ManagementKey).GetAsync($"/api/companies/{setup.Tenant.CompanyId}/ivrs/{setup.IvrId}"), HttpStatusCode.OK))["welcome"]!["audioId"]!.GetValue<string>();
        var call = await App.RingAsync(Acs, setup, OpenInstant);

        await App.CallbackAsync(call, "CallConnected");

        var prompt = Acs.For(call.CallConnectionId).Last().Body["playPrompt"]!;
        Assert.Equal("file", prompt["kind"]!.GetValue<string>());
        Assert.Equal(audioId, prompt["playSourceCacheId"]!.GetValue<string>());
        var url = new Uri(prompt["file"]!["uri"]!.GetValue<string>());
        var query = System.Web.HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("r", query["sp"]);
        Assert.True(DateTimeOffset.Parse(query["se"]!, System.Globalization.CultureInfo.InvariantCulture) < DateTimeOffset.UtcNow.AddHours(1), "The URL lives minutes, not hours.");
        using var anyone = new HttpClient();
        var downloaded = await anyone.GetByteArrayAsync(url);
        var stored = await App.As(setup.Tenant.ManagementKey).GetByteArrayAsync($"/api/companies/{setup.Tenant.CompanyId}/audio/{audioId}");
        Assert.Equal(stored, downloaded);
        var overwrite = new HttpRequestMessage(HttpMethod.Put, url) { Content = new ByteArrayContent([1, 2, 3]) };
        overwrite.Headers.Add("x-ms-blob-type", "BlockBlob");
        Assert.Equal(HttpStatusCode.Forbidden, (await anyone.SendAsync(overwrite)).StatusCode);
    }

    [Fact]
    public async Task CallsAreListedWithTheirDetailsOnlyToTheirCompany()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), ClosedInstant);
        var attacker = await App.TenantAsync("Attacker");

        var theirs = await App.As(attacker.ManagementKey).GetAsync($"/api/companies/{call.Setup.Tenant.CompanyId}/calls");
        var own = await Arrange.ReadAsync(await App.As(attacker.ManagementKey).GetAsync($"/api/companies/{attacker.CompanyId}/calls"), HttpStatusCode.OK);
        var record = await App.CallRecordAsync(call);

        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        Assert.Empty(own["items"]!.AsArray());
        Assert.StartsWith("call_", record["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(call.Setup.Number, record["to"]!.GetValue<string>());
        Assert.Equal(call.Setup.IvrId, record["ivrId"]!.GetValue<string>());
        Assert.Equal(ClosedInstant, record["startedAt"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task ACallToANumberNoIvrAnswersIsLeftAloneAndUnreadableEventsAreABadRequest()
    {
        var tenant = await App.TenantAsync();
        var number = await App.InboundNumberAsync(tenant);

        var call = await App.Anonymous().PostAsJsonAsync("/api/providers/acs/events", IncomingCall(number, "+5521999990000", OpenInstant, Guid.NewGuid().ToString()));
        var stranger = await App.Anonymous().PostAsJsonAsync("/api/providers/acs/events", IncomingCall("+14255550123", "+5521999990000", OpenInstant, Guid.NewGuid().ToString()));
        var unreadable = await App.Anonymous().PostAsync("/api/providers/acs/events", new StringContent("[1, 2]", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        Assert.Equal(HttpStatusCode.OK, stranger.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unreadable.StatusCode);
        Assert.DoesNotContain(Acs.Requests, r => r.Body["incomingCallContext"]?.GetValue<string>().Contains("+5521999990000", StringComparison.Ordinal) == true);
        Assert.Empty((await Arrange.ReadAsync(await App.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/calls"), HttpStatusCode.OK))["items"]!.AsArray());
    }

    [Fact]
    public async Task TheLocalAcsServerRefusesARequestWhoseSignatureDoesNotMatchIt()
    {
        using var client = new HttpClient(_host.Authority.CreateTrustingHandler());
        HttpRequestMessage Request(string body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Acs.Endpoint, $"calling/callConnections/conn-x:terminate?api-version={AcsCallAutomation.ApiVersion}"));
            request.Content = new StringContent(body);
            return request;
        }

        var signed = Request("");
        AcsCallAutomation.Sign(signed, [], Acs.AccessKey, DateTimeOffset.UtcNow);
        var otherKey = Request("");
        AcsCallAutomation.Sign(otherKey, [], Convert.ToBase64String(new byte[64]), DateTimeOffset.UtcNow);
        var tampered = Request("{\"changed\":true}");
        AcsCallAutomation.Sign(tampered, [], Acs.AccessKey, DateTimeOffset.UtcNow);

        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(signed)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(otherKey)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(tampered)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Request(""))).StatusCode);
    }

    /// <summary>The operation context of the last operation the app asked of ACS on this call: what its event carries.</summary>
    private string Last(TestCall call) => Acs.For(call.CallConnectionId).Last().Body["operationContext"]!.GetValue<string>();
}
