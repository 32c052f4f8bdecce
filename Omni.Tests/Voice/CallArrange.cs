using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Voice;

/// <summary>A company ready to take calls: a service with a voice target, an inbound number, the IVR that answers it.</summary>
internal sealed record CallSetup(TestTenant Tenant, string Number, string IvrId, string VoiceTarget);

/// <summary>A call the app answered on the local ACS server: its call connection and the callback URL ACS was given.</summary>
internal sealed record TestCall(CallSetup Setup, string Caller, string CallConnectionId, Uri Callback, string CorrelationId);

/// <summary>Companies, IVRs and the documented Event Grid and CloudEvents payloads of ACS, for the call tests.</summary>
internal static class CallArrange
{
    /// <summary>Monday 2 March 2026, 10:00 in São Paulo: the test IVR (weekdays from 08:00) is open.</summary>
    public static readonly DateTimeOffset OpenInstant = new(2026, 3, 2, 13, 0, 0, TimeSpan.Zero);

    /// <summary>The same Monday, 20:00 in São Paulo: closed.</summary>
    public static readonly DateTimeOffset ClosedInstant = new(2026, 3, 2, 23, 0, 0, TimeSpan.Zero);

    public static async Task<CallSetup> CallSetupAsync(this OmniApp app, TestTenant? tenant = null, string? welcomeAudioId = null, Func<TestTenant, Task<string>>? audio = null)
    {
        tenant ??= await app.TenantAsync();
        var client = app.As(tenant.ManagementKey);
        var target = "+55119" + Random.Shared.Next(10_000_000, 100_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Arrange.ReadAsync(await client.PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/services/{tenant.ServiceId}", new { name = "Suporte", voiceTarget = target }), HttpStatusCode.OK);
        var number = await app.InboundNumberAsync(tenant);
        var audioId = welcomeAudioId ?? (audio is null ? null : await audio(tenant));
        var ivr = await Arrange.ReadAsync(await client.PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/ivrs", VoiceArrange.IvrBody(tenant, number, audioId)), HttpStatusCode.Created);
        return new CallSetup(tenant, number, ivr["id"]!.GetValue<string>(), target);
    }

    public static JsonObject PhoneNumber(string number) => new() { ["kind"] = "phoneNumber", ["rawId"] = "4:" + number, ["phoneNumber"] = new JsonObject { ["value"] = number } };

    /// <summary>Microsoft.Communication.IncomingCall in the Event Grid schema (an array of one), as ACS publishes it for a PSTN call.</summary>
    public static JsonArray IncomingCall(string to, string from, DateTimeOffset at, string correlationId) =>
    [
        new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["topic"] = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/omni/providers/Microsoft.Communication/CommunicationServices/omni",
            ["subject"] = "/phoneNumber/" + to[1..],
            ["eventType"] = "Microsoft.Communication.IncomingCall",
            ["eventTime"] = at.ToString("O"),
            ["dataVersion"] = "1.0",
            ["metadataVersion"] = "1",
            ["data"] = new JsonObject
            {
                ["to"] = PhoneNumber(to),
                ["from"] = PhoneNumber(from),
                ["serverCallId"] = "server-call-" + correlationId,
                ["callerDisplayName"] = "",
                ["incomingCallContext"] = "eyJhbGciOiJub25lIn0.context-of-" + correlationId,
                ["correlationId"] = correlationId,
            },
        },
    ];

    /// <summary>Rings the setup's number from a random caller at <paramref name="at"/> and returns the call ACS was asked to answer.</summary>
    public static async Task<TestCall> RingAsync(this OmniApp app, FakeAcs acs, CallSetup setup, DateTimeOffset at)
    {
        var caller = "+55219" + Random.Shared.Next(10_000_000, 100_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var correlationId = Guid.NewGuid().ToString();
        var response = await app.Anonymous().PostAsJsonAsync("/api/providers/acs/events", IncomingCall(setup.Number, caller, at, correlationId));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = Assert.Single(acs.Requests, r => r.Operation == "answer" && r.Body["incomingCallContext"]!.GetValue<string>().EndsWith(correlationId, StringComparison.Ordinal));
        return new TestCall(setup, caller, answer.CallConnectionId!, new Uri(answer.Body["callbackUri"]!.GetValue<string>()), correlationId);
    }

    /// <summary>Posts one Call Automation event (CloudEvents, in a batch of one as ACS sends them) to the call's callback URL on the app.</summary>
    public static Task<HttpResponseMessage> CallbackAsync(this OmniApp app, TestCall call, string type, JsonObject? data = null, string? pathAndQuery = null, string? callConnectionId = null)
    {
        var connection = callConnectionId ?? call.CallConnectionId;
        data ??= [];
        data["callConnectionId"] = connection;
        data["serverCallId"] = "server-call-" + call.CorrelationId;
        data["correlationId"] = call.CorrelationId;
        var batch = new JsonArray(new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["source"] = "calling/callConnections/" + connection,
            ["type"] = "Microsoft.Communication." + type,
            ["data"] = data,
            ["time"] = DateTimeOffset.UtcNow.ToString("O"),
            ["specversion"] = "1.0",
            ["datacontenttype"] = "application/json",
            ["subject"] = "calling/callConnections/" + connection,
        });
        // ACS posts to the public URL it was given; the test app listens on loopback, so the path and query are what count.
        return app.Anonymous().PostAsync(pathAndQuery ?? call.Callback.PathAndQuery, new StringContent(batch.ToJsonString(), Encoding.UTF8, "application/json"));
    }

    public static JsonObject Context(string operationContext, JsonObject? more = null)
    {
        var data = more ?? [];
        data["operationContext"] = operationContext;
        return data;
    }

    public static JsonObject Tone(string operationContext, string tone) => Context(operationContext, new JsonObject
    {
        ["recognitionType"] = "dtmf",
        ["dtmfResult"] = new JsonObject { ["tones"] = new JsonArray(tone) },
        ["resultInformation"] = new JsonObject { ["code"] = 200, ["subCode"] = 8531, ["message"] = "Action completed, max digits received." },
    });

    public static JsonObject Failure(string operationContext, int code, int subCode, string message) => Context(operationContext, new JsonObject
    {
        ["resultInformation"] = new JsonObject { ["code"] = code, ["subCode"] = subCode, ["message"] = message },
    });

    public static async Task<JsonObject> CallRecordAsync(this OmniApp app, TestCall call)
    {
        var list = await Arrange.ReadAsync(await app.As(call.Setup.Tenant.ManagementKey).GetAsync($"/api/companies/{call.Setup.Tenant.CompanyId}/calls"), HttpStatusCode.OK);
        return Assert.Single(list["items"]!.AsArray(), c => c!["from"]!.GetValue<string>() == call.Caller)!.AsObject();
    }
}
