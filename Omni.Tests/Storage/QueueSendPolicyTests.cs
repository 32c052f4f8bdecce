using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Storage;

/// <summary>Every queue is sent to one way: delays rounded up and capped, messages that never expire.</summary>
public sealed class QueueSendPolicyTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly Dictionary<string, string?> _settings = IsolatedQueues.Settings();
    private OmniApp _app = null!;

    public ValueTask InitializeAsync()
    {
        // Not run locally: the queued message must stay where the test can peek at it.
        _app = new OmniApp(azurite, _settings);
        _app.StartServer();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [InlineData(-5.0, 0.0)]
    [InlineData(0.0, 0.0)]
    [InlineData(0.2, 1.0)]
    [InlineData(59.001, 60.0)]
    [InlineData(700_000.0, 604_800.0)]
    public void ADelayIsRoundedUpToWholeSecondsAndCappedAtSevenDays(double seconds, double expected) =>
        Assert.Equal(TimeSpan.FromSeconds(expected), QueueSendPolicy.VisibilityDelay(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public async Task AnOutboundMessageWaitingInItsQueueNeverExpires()
    {
        var queueName = _settings["Omni:Conversations:OutboundQueueName"]!;
        await _app.Services.GetRequiredService<OutboundQueue>().EnqueueAsync(new OutboundWork("cmp_x", "cnv_x", "msg_x", 1), cancellationToken: TestContext.Current.CancellationToken);

        var queue = new QueueClient(azurite.ConnectionString, queueName, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        var peeked = Assert.Single((await queue.PeekMessagesAsync(cancellationToken: TestContext.Current.CancellationToken)).Value);
        // The service's default time-to-live is 7 days; "never" is its end-of-time expiry.
        Assert.Equal(9999, peeked.ExpiresOn!.Value.Year);
    }
}
