using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Storage;

/// <summary>
/// What a message costs in storage requests (tenants pay per request): counted by the same pipeline policy the
/// benchmarks use, on the app's own clients. Counts are deterministic; times are never asserted.
/// </summary>
public sealed class StorageRequestCountTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private StorageTransactionCounter _counter = null!;
    private OmniApp _app = null!;

    public ValueTask InitializeAsync()
    {
        _app = new OmniApp(azurite, IsolatedQueues.Settings(), services => _counter = StorageTransactionCounter.AttachTo(services));
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AnAcceptedReceiveHookMessageCostsThreeStorageRequests()
    {
        var channel = await _app.OmniChannelAsync();
        var integrator = _app.As(channel.ApiKey);
        // The first message opens the conversation; the second is the common case measured.
        await Arrange.ReadAsync(await integrator.PostAsJsonAsync("/api/receive_hook", ReceiveHookTests.Body("erp-1", "cust-1")), HttpStatusCode.Accepted);

        _counter.Reset();
        await Arrange.ReadAsync(await integrator.PostAsJsonAsync("/api/receive_hook", ReceiveHookTests.Body("erp-2", "cust-1")), HttpStatusCode.Accepted);

        Assert.True(_counter.Total == 3, string.Join(", ", _counter.Snapshot().Select(c => $"{c.Key}: {c.Value}")));
    }
}
