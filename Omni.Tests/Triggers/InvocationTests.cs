using System.Net;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Triggers;

/// <summary>Timer and queue invocations exactly as the Functions host sends them to a custom handler.</summary>
public sealed class InvocationTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly TriggerProbe _probe = new();
    private OmniApp _app = null!;

    public ValueTask InitializeAsync()
    {
        _app = new OmniApp(azurite,
            // Launched as the Functions host does it (FUNCTIONS_CUSTOMHANDLER_PORT set), which is when the invocation routes exist.
            new Dictionary<string, string?> { ["Omni:Triggers:FunctionsDirectory"] = TestFunctions.CreateDirectory("probe-invocations"), ["FUNCTIONS_CUSTOMHANDLER_PORT"] = "7071" },
            services => TestFunctions.Register(services, _probe));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private Task<HttpResponseMessage> InvokeAsync(string function, string body) => TestFunctions.InvokeAsync(_app, function, body);

    [Fact]
    public async Task AQueueInvocationUnwrapsTheDoublyEncodedMessageAndStringNumbers()
    {
        // As the host's ScriptInvocationContextExtensions writes it: the body JSON-encoded once more, numbers as strings.
        const string payload = """
            {"Data":{"message":"\"{\\\"a\\\":1,\\\"text\\\":\\\"olá\\\"}\""},
             "Metadata":{"DequeueCount":"3","Id":"\"7c1e5d2a-0000-4000-8000-000000000001\"","PopReceipt":"\"AgAAAAMAAAAAAAAA\"",
                         "InsertionTime":"2026-11-24T10:00:00+00:00","ExpirationTime":"2026-12-01T10:00:00+00:00","NextVisibleTime":"2026-11-24T10:10:00+00:00",
                         "sys":{"MethodName":"ProbeQueue","UtcNow":"2026-11-24T10:00:01Z","RandGuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}}}
            """;

        var response = await InvokeAsync(TestFunctions.Queue, payload);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.True(answer.ContainsKey("Outputs") && answer.ContainsKey("Logs") && answer.ContainsKey("ReturnValue"));
        var message = Assert.Single(_probe.Messages);
        Assert.Equal("""{"a":1,"text":"olá"}""", message.Body);
        Assert.Equal(3, message.DequeueCount);
        Assert.Equal("7c1e5d2a-0000-4000-8000-000000000001", message.Id);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 10, 0, 0, TimeSpan.Zero), message.InsertionTime);
    }

    [Fact]
    public async Task AQueueMessageThatIsAPlainStringArrivesAsItIs()
    {
        var response = await InvokeAsync(TestFunctions.Queue, """{"Data":{"message":"hello"},"Metadata":{"DequeueCount":1}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello", Assert.Single(_probe.Messages).Body);
    }

    [Fact]
    public async Task AFailingHandlerAnswersNonSuccessSoTheHostRetries()
    {
        var response = await InvokeAsync(TestFunctions.Queue, """{"Data":{"message":"please fail"},"Metadata":{"DequeueCount":"1"}}""");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Contains("ProbeQueue failed", answer["Logs"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task AnInvocationWithoutItsBindingIsRejectedAsFailed()
    {
        var response = await InvokeAsync(TestFunctions.Queue, """{"Data":{},"Metadata":{}}""");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Empty(_probe.Messages);
    }

    [Fact]
    public async Task ATimerInvocationWithANullScheduleStatusRuns()
    {
        const string payload = """
            {"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}},
             "Metadata":{"sys":{"MethodName":"ProbeTimer","UtcNow":"2026-11-24T10:00:00Z","RandGuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}}}
            """;

        var response = await InvokeAsync(TestFunctions.Timer, payload);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(Assert.Single(_probe.Ticks).IsPastDue);
    }

    [Fact]
    public async Task TheHostsInitializationProbeOnTheRootIsAnswered()
    {
        var response = await _app.Anonymous().GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
