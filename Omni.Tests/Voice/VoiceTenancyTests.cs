using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Omni.Tests.Infrastructure;
using Omni.Voice;

namespace Omni.Tests.Voice;

/// <summary>Another company's voice resources are 404 through a company's own routes; services carry a voice target; calls list what the call flow records.</summary>
public sealed class VoiceTenancyTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AnotherCompanysIvrsAudioAndNumbersAreNotFoundThroughACompanysOwnRoutes()
    {
        var victim = await _app.TenantAsync("Victim");
        var attacker = await _app.TenantAsync("Attacker");
        var number = await _app.InboundNumberAsync(victim);
        var audioId = (await Arrange.ReadAsync(await _app.UploadAsync(victim, VoiceArrange.Wav(TimeSpan.FromSeconds(0.2))), HttpStatusCode.Created))["audioId"]!.GetValue<string>();
        var ivrId = (await Arrange.ReadAsync(await _app.As(victim.ManagementKey).PostAsJsonAsync($"/api/companies/{victim.CompanyId}/ivrs",
            VoiceArrange.IvrBody(victim, number)), HttpStatusCode.Created))["id"]!.GetValue<string>();
        var own = $"/api/companies/{attacker.CompanyId}";
        var client = _app.As(attacker.ManagementKey);

        var answers = new Dictionary<string, HttpResponseMessage>
        {
            ["GET ivr"] = await client.GetAsync($"{own}/ivrs/{ivrId}"),
            ["PUT ivr"] = await client.PutAsJsonAsync($"{own}/ivrs/{ivrId}", VoiceArrange.IvrBody(attacker, number)),
            ["route"] = await client.GetAsync($"{own}/ivrs/{ivrId}/route"),
            ["DELETE ivr"] = await client.DeleteAsync($"{own}/ivrs/{ivrId}"),
            ["GET audio"] = await client.GetAsync($"{own}/audio/{audioId}"),
            ["DELETE audio"] = await client.DeleteAsync($"{own}/audio/{audioId}"),
            ["DELETE number"] = await client.DeleteAsync($"{own}/numbers/{number}"),
        };

        Assert.All(answers, a => Assert.True(a.Value.StatusCode == HttpStatusCode.NotFound, $"{a.Key}: {(int)a.Value.StatusCode}"));
        Assert.Empty((await Arrange.ReadAsync(await client.GetAsync($"{own}/ivrs"), HttpStatusCode.OK))["items"]!.AsArray());
        Assert.Empty((await Arrange.ReadAsync(await client.GetAsync($"{own}/numbers"), HttpStatusCode.OK))["items"]!.AsArray());
        // An IVR of the attacker's cannot use the victim's audio or number either.
        var body = VoiceArrange.IvrBody(attacker, number, audioId);
        var refused = await Arrange.ReadAsync(await client.PostAsJsonAsync($"{own}/ivrs", body), HttpStatusCode.BadRequest);
        Assert.NotNull(refused["errors"]!["number"]);
        Assert.NotNull(refused["errors"]!["welcome.audioId"]);
        // Nothing changed on the victim's side.
        Assert.Equal(HttpStatusCode.OK, (await _app.As(victim.ManagementKey).GetAsync($"/api/companies/{victim.CompanyId}/ivrs/{ivrId}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _app.As(victim.ManagementKey).GetAsync($"/api/companies/{victim.CompanyId}/audio/{audioId}")).StatusCode);
    }

    [Fact]
    public async Task AServiceTakesAnE164OrSipVoiceTargetOnCreateAndReplace()
    {
        var tenant = await _app.TenantAsync();
        var client = _app.As(tenant.ManagementKey);

        var created = await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/services", new { name = "Vendas", voiceTarget = "+5511912345678" }), HttpStatusCode.Created);
        var id = created["id"]!.GetValue<string>();
        var replaced = await Arrange.ReadAsync(await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/services/{id}", new { name = "Vendas SP", voiceTarget = "sip:vendas@pbx.example.com" }), HttpStatusCode.OK);
        var cleared = await Arrange.ReadAsync(await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/services/{id}", new { name = "Vendas SP" }), HttpStatusCode.OK);
        var listed = await Arrange.ReadAsync(await client.GetAsync($"/api/companies/{tenant.CompanyId}/services"), HttpStatusCode.OK);

        Assert.Equal("+5511912345678", created["voiceTarget"]!.GetValue<string>());
        Assert.Equal("sip:vendas@pbx.example.com", replaced["voiceTarget"]!.GetValue<string>());
        Assert.Null(cleared["voiceTarget"]);
        Assert.Contains(listed["items"]!.AsArray(), s => s!["id"]!.GetValue<string>() == id && s["name"]!.GetValue<string>() == "Vendas SP");
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/services/svc_nope", new { name = "x" })).StatusCode);
    }

    [Theory]
    [InlineData("5511912345678")]
    [InlineData("+55 11 91234-5678")]
    [InlineData("+5500000")]
    [InlineData("sip:")]
    [InlineData("sip:fila@exa mple.com")]
    [InlineData("tel:+5511912345678")]
    public async Task AVoiceTargetThatIsNeitherE164NorSipIsABadRequest(string voiceTarget)
    {
        var tenant = await _app.TenantAsync();

        await NumberTests.AssertProblemAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/services", new { name = "Vendas", voiceTarget }), "voiceTarget");
    }

    [Fact]
    public async Task CallsListWhatTheCallFlowRecordedSinceAnInstantAndOnlyTheCompanys()
    {
        var tenant = await _app.TenantAsync();
        var other = await _app.TenantAsync("Other");
        var calls = _app.Services.GetRequiredService<CallRecords>();
        var empty = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/calls"), HttpStatusCode.OK);
        var day = new DateTimeOffset(2026, 3, 2, 12, 0, 0, TimeSpan.Zero);
        await calls.SaveAsync(new CallRecord("call_old", tenant.CompanyId, "+5511999990000", "+551130000000", "ivr_x", day.AddDays(-1), day.AddDays(-1).AddMinutes(2), "transferred", "1", tenant.ServiceId));
        await calls.SaveAsync(new CallRecord("call_new", tenant.CompanyId, "+5511999990001", "+551130000000", "ivr_x", day.AddHours(1), null, null, "", null));
        await calls.SaveAsync(new CallRecord("call_theirs", other.CompanyId, "+5511999990002", "+551130000001", null, day.AddHours(2), null, null, "", null));

        var since = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/calls?since=2026-03-02T12:00:00Z"), HttpStatusCode.OK);
        var all = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/calls"), HttpStatusCode.OK);

        Assert.Empty(empty["items"]!.AsArray());
        Assert.Equal("call_new", Assert.Single(since["items"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.Equal(["call_new", "call_old"], all["items"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()));
        Assert.Equal("transferred", all["items"]![1]!["outcome"]!.GetValue<string>());
        await NumberTests.AssertProblemAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/calls?since=soon"), "since");
    }
}
