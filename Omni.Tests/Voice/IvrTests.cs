using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Voice;

/// <summary>IVR CRUD through the API with every §8 rule, what an IVR's number and audio may no longer do, and the route decision.</summary>
public sealed class IvrTests(AzuriteFixture azurite) : IAsyncLifetime
{
    /// <summary>Each case spoils one thing of a valid body; the 400 must name the field.</summary>
    private static readonly Dictionary<string, (Action<JsonObject> Spoil, string Field)> Rules = new()
    {
        ["no name"] = (b => b.Remove("name"), "name"),
        ["unknown country"] = (b => b["country"] = "ZZ", "country"),
        ["area code not digits"] = (b => b["areaCode"] = "onze", "areaCode"),
        ["number of another area code"] = (b => b["areaCode"] = "21", "number"),
        ["number not E.164"] = (b => b["number"] = "11 3000-0000", "number"),
        ["no schedule"] = (b => b.Remove("schedule"), "schedule"),
        ["unknown time zone"] = (b => b["schedule"]!["timeZone"] = "America/Atlantis", "schedule.timeZone"),
        ["a Windows zone name"] = (b => b["schedule"]!["timeZone"] = "E. South America Standard Time", "schedule.timeZone"),
        ["no time zone"] = (b => b["schedule"]!.AsObject().Remove("timeZone"), "schedule.timeZone"),
        ["unknown day"] = (b => Day(b, 0)["day"] = "segunda", "schedule.days[0].day"),
        ["open not HH:mm"] = (b => Day(b, 0)["open"] = "8:00", "schedule.days[0].open"),
        ["open at 24:00"] = (b => Day(b, 0)["open"] = "24:00", "schedule.days[0].open"),
        ["close past 24:00"] = (b => Day(b, 0)["close"] = "24:30", "schedule.days[0].close"),
        ["minutes past 59"] = (b => Day(b, 0)["close"] = "11:60", "schedule.days[0].close"),
        ["a window crossing midnight"] = (b => (Day(b, 2)["open"], Day(b, 2)["close"]) = ("22:00", "02:00"), "schedule.days[2].close"),
        ["close before open"] = (b => Day(b, 0)["close"] = "07:00", "schedule.days[0].close"),
        ["close equal to open"] = (b => Day(b, 0)["close"] = "08:00", "schedule.days[0].close"),
        ["overlapping windows"] = (b => Day(b, 1)["open"] = "11:00", "schedule.days[1]"),
        ["no windows and not always open"] = (b => b["schedule"]!["days"] = new JsonArray(), "schedule.days"),
        ["windows while always open"] = (b => b["schedule"]!["alwaysOpen"] = true, "schedule.days"),
        ["a holiday not yyyy-MM-dd"] = (b => Holiday(b)["date"] = "25/12/2026", "schedule.holidays[0].date"),
        ["a holiday that does not close"] = (b => Holiday(b)["closed"] = false, "schedule.holidays[0].closed"),
        ["a holiday twice"] = (b => b["schedule"]!["holidays"]!.AsArray().Add(new JsonObject { ["date"] = "2026-12-25" }), "schedule.holidays[1].date"),
        ["no welcome"] = (b => b.Remove("welcome"), "welcome"),
        ["a message with text and audio"] = (b => b["closed"]!["audioId"] = "aud_x", "closed"),
        ["a message with neither"] = (b => b["unanswered"] = new JsonObject(), "unanswered"),
        ["an unknown voice"] = (b => b["welcome"]!["voice"] = "Francisca", "welcome.voice"),
        ["text too long"] = (b => b["welcome"]!["text"] = new string('a', 1001), "welcome.text"),
        ["an audio that does not exist"] = (b => b["welcome"] = new JsonObject { ["audioId"] = "aud_missing" }, "welcome.audioId"),
        ["an empty menu"] = (b => b["menu"] = new JsonArray(), "menu"),
        ["a digit other than 0-9"] = (b => Menu(b)["digit"] = "*", "menu[0].digit"),
        ["a two-digit entry"] = (b => Menu(b)["digit"] = "10", "menu[0].digit"),
        ["a repeated digit"] = (b => b["menu"]!.AsArray().Add(new JsonObject { ["digit"] = "1", ["serviceId"] = Menu(b)["serviceId"]!.GetValue<string>() }), "menu[1].digit"),
        ["an unknown service"] = (b => Menu(b)["serviceId"] = "svc_nope", "menu[0].serviceId"),
        ["no service"] = (b => Menu(b).Remove("serviceId"), "menu[0].serviceId"),
    };

    private readonly OmniApp _app = new(azurite);

    public static TheoryData<string> RuleNames => new(Rules.Keys);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [MemberData(nameof(RuleNames))]
    public async Task EveryRuleIsABadRequestNamingTheField(string rule)
    {
        var tenant = await _app.TenantAsync();
        var number = await _app.InboundNumberAsync(tenant);
        var body = VoiceArrange.IvrBody(tenant, number);
        Rules[rule].Spoil(body);

        await NumberTests.AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", body), Rules[rule].Field);
    }

    [Fact]
    public async Task AnotherCompanysServiceIsABadRequestNamingTheMenuEntry()
    {
        var tenant = await _app.TenantAsync();
        var other = await _app.TenantAsync("Other");
        var body = VoiceArrange.IvrBody(tenant, await _app.InboundNumberAsync(tenant));
        Menu(body)["serviceId"] = other.ServiceId;

        await NumberTests.AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", body), "menu[0].serviceId");
    }

    [Fact]
    public async Task ANumberTheCompanyDoesNotHoldOrHoldsOnlyForOutboundCallsIsABadRequest()
    {
        var tenant = await _app.TenantAsync();
        var free = (await _app.StockAsync())[0];
        var outboundOnly = (await _app.StockAsync())[0];
        await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/numbers", new { number = outboundOnly, outbound = true }), HttpStatusCode.Created);

        await NumberTests.AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, free)), "number");
        await NumberTests.AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, outboundOnly)), "number");
    }

    [Fact]
    public async Task AnIvrIsCreatedReadListedReplacedAndDeleted()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);
        var number = await _app.InboundNumberAsync(tenant);
        var audio = await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Wav(TimeSpan.FromSeconds(0.3))), HttpStatusCode.Created);
        var audioId = audio["audioId"]!.GetValue<string>();

        var created = await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, number, audioId)), HttpStatusCode.Created);
        var id = created["id"]!.GetValue<string>();
        var read = await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}"), HttpStatusCode.OK);
        var listed = await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/ivrs"), HttpStatusCode.OK);
        var replacement = VoiceArrange.IvrBody(tenant, number);
        replacement["name"] = "URA noturna";
        replacement["schedule"] = new JsonObject { ["alwaysOpen"] = true, ["timeZone"] = "America/Manaus" };
        var replaced = await Arrange.ReadAsync(await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}", replacement), HttpStatusCode.OK);
        var deleted = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}");
        var gone = await client.GetAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}");

        Assert.Equal(number, read["number"]!.GetValue<string>());
        Assert.Equal(audioId, read["welcome"]!["audioId"]!.GetValue<string>());
        Assert.Equal("pt-BR-FranciscaNeural", read["closed"]!["voice"]!.GetValue<string>()); // the default voice
        Assert.Equal(3, read["schedule"]!["days"]!.AsArray().Count);
        Assert.Equal("24:00", read["schedule"]!["days"]![2]!["close"]!.GetValue<string>());
        Assert.Equal("2026-12-25", read["schedule"]!["holidays"]![0]!["date"]!.GetValue<string>());
        Assert.Equal(id, Assert.Single(listed["items"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.Equal("URA noturna", replaced["name"]!.GetValue<string>());
        Assert.True(replaced["schedule"]!["alwaysOpen"]!.GetValue<bool>());
        Assert.Equal(created["createdAt"]!.GetValue<DateTimeOffset>(), replaced["createdAt"]!.GetValue<DateTimeOffset>());
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task ANumberAnsweredByAnIvrCannotBeReleasedNorAnsweredByASecondIvrUntilTheIvrLetsItGo()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);
        var number = await _app.InboundNumberAsync(tenant);
        var another = await _app.InboundNumberAsync(tenant);
        var ivr = await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, number)), HttpStatusCode.Created);
        var id = ivr["id"]!.GetValue<string>();

        var whileUsed = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/{number}");
        var second = await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, number));
        var listed = await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/numbers"), HttpStatusCode.OK);
        await Arrange.ReadAsync(await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}", VoiceArrange.IvrBody(tenant, another)), HttpStatusCode.OK);
        var afterMove = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/{number}");
        var anotherWhileUsed = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/{another}");
        await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}");
        var afterDelete = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/numbers/{another}");

        Assert.Equal(HttpStatusCode.Conflict, whileUsed.StatusCode);
        await NumberTests.AssertProblemAsync(second, "number");
        Assert.Equal(id, listed["items"]!.AsArray().Single(n => n!["number"]!.GetValue<string>() == number)!["ivrId"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NoContent, afterMove.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, anotherWhileUsed.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, afterDelete.StatusCode);
    }

    [Fact]
    public async Task AnAudioAnIvrPlaysCannotBeDeletedUntilTheIvrStopsPlayingIt()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);
        var audioId = (await Arrange.ReadAsync(await _app.UploadAsync(tenant, VoiceArrange.Mp3(10)), HttpStatusCode.Created))["audioId"]!.GetValue<string>();
        var number = await _app.InboundNumberAsync(tenant);
        var id = (await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, number, audioId)), HttpStatusCode.Created))["id"]!.GetValue<string>();

        var whileUsed = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/audio/{audioId}");
        await Arrange.ReadAsync(await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs/{id}", VoiceArrange.IvrBody(tenant, number)), HttpStatusCode.OK);
        var afterwards = await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/audio/{audioId}");

        Assert.Equal(HttpStatusCode.Conflict, whileUsed.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, afterwards.StatusCode);
    }

    [Fact]
    public async Task TheRouteTellsWhatTheIvrPlaysAndOffersAtAnInstantInItsZone()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);
        var number = await _app.InboundNumberAsync(tenant);
        var id = (await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, number)), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var url = $"/api/companies/{tenant.CompanyId}/ivrs/{id}/route";

        // Monday 2026-03-02 10:00 in São Paulo (-03:00), then 12:30 (the lunch gap), then Christmas (a Friday holiday).
        var open = await Arrange.ReadAsync(await client.GetAsync(url + "?at=2026-03-02T13:00:00Z"), HttpStatusCode.OK);
        var lunch = await Arrange.ReadAsync(await client.GetAsync(url + "?at=2026-03-02T15:30:00Z"), HttpStatusCode.OK);
        var christmas = await Arrange.ReadAsync(await client.GetAsync(url + "?at=2026-12-25T15:00:00Z"), HttpStatusCode.OK);
        var now = await client.GetAsync(url);
        var bad = await client.GetAsync(url + "?at=yesterday");

        Assert.True(open["open"]!.GetValue<bool>());
        Assert.Equal("welcome", open["prompt"]!["name"]!.GetValue<string>());
        Assert.Equal("Bem-vindo à Acme.", open["prompt"]!["text"]!.GetValue<string>());
        Assert.Equal(tenant.ServiceId, open["menu"]![0]!["serviceId"]!.GetValue<string>());
        Assert.Equal("America/Sao_Paulo", open["timeZone"]!.GetValue<string>());
        Assert.Equal("2026-03-02T10:00:00-03:00", open["localTime"]!.GetValue<string>());
        Assert.Equal(DateTimeOffset.Parse("2026-03-02T15:00:00Z"), open["nextChange"]!.GetValue<DateTimeOffset>());
        Assert.False(lunch["open"]!.GetValue<bool>());
        Assert.Equal("closed", lunch["prompt"]!["name"]!.GetValue<string>());
        Assert.Empty(lunch["menu"]!.AsArray());
        Assert.Equal(DateTimeOffset.Parse("2026-03-02T16:00:00Z"), lunch["nextChange"]!.GetValue<DateTimeOffset>());
        Assert.False(christmas["open"]!.GetValue<bool>());
        Assert.Equal(DateTimeOffset.Parse("2026-12-28T11:00:00Z"), christmas["nextChange"]!.GetValue<DateTimeOffset>());
        Assert.Equal(HttpStatusCode.OK, now.StatusCode);
        await NumberTests.AssertProblemAsync(bad, "at");
    }

    [Fact]
    public async Task RoutesOfAnIvrThatDoesNotExistAreNotFound()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);
        var body = VoiceArrange.IvrBody(tenant, await _app.InboundNumberAsync(tenant));

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/companies/{tenant.CompanyId}/ivrs/ivr_nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs/ivr_nope", body)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"/api/companies/{tenant.CompanyId}/ivrs/ivr_nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/companies/{tenant.CompanyId}/ivrs/ivr_nope/route")).StatusCode);
    }

    private static JsonObject Day(JsonObject body, int index) => body["schedule"]!["days"]![index]!.AsObject();

    private static JsonObject Holiday(JsonObject body) => body["schedule"]!["holidays"]![0]!.AsObject();

    private static JsonObject Menu(JsonObject body) => body["menu"]![0]!.AsObject();
}
