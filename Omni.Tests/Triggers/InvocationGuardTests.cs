using System.Net;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Triggers;

/// <summary>
/// The host's invocation protocol carries no credential, so the invocation routes exist only when the Functions host
/// launched the app (FUNCTIONS_CUSTOMHANDLER_PORT) and left the triggers to itself: an app told not to run its
/// triggers (<c>RunLocally=false</c>) outside the host takes no invocation from anyone.
/// </summary>
public sealed class InvocationGuardTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly TriggerProbe _probe = new();
    private OmniApp _app = null!;

    public ValueTask InitializeAsync()
    {
        _app = new OmniApp(azurite,
            new Dictionary<string, string?> { ["Omni:Triggers:FunctionsDirectory"] = TestFunctions.CreateDirectory("probe-guard"), ["Omni:Triggers:RunLocally"] = "false" },
            services => TestFunctions.Register(services, _probe));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private Task<HttpResponseMessage> InvokeAsync(string function, string body) => TestFunctions.InvokeAsync(_app, function, body);

    [Fact]
    public async Task WithLocalTriggersOffOutsideTheHostAQueueInvocationIsNotFoundAndNothingRuns()
    {
        var response = await InvokeAsync(TestFunctions.Queue, """{"Data":{"message":"hello"},"Metadata":{"DequeueCount":"1"}}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(_probe.Messages);
    }

    [Fact]
    public async Task WithLocalTriggersOffOutsideTheHostATimerInvocationIsNotFoundAndNothingRuns()
    {
        var response = await InvokeAsync(TestFunctions.Timer, """{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(_probe.Ticks);
    }

    [Fact]
    public async Task TheAppsOwnFunctionsAreNotFoundEither()
    {
        var response = await InvokeAsync("DeliverWebhook", """{"Data":{"message":"{}"},"Metadata":{"DequeueCount":"1"}}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
