using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Triggers;

/// <summary>Without the Functions host, the app runs its own timers and queue listeners, with the host's retry and poison rules.</summary>
public sealed class LocalTriggerRunnerTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly TriggerProbe _probe = new();
    private readonly FailingUpdates _updates = new();
    private readonly string _queueName = "probe-" + Guid.NewGuid().ToString("N")[..12];
    private OmniApp _app = null!;

    public ValueTask InitializeAsync()
    {
        // Queues of its own for the real functions too: this app must not take other test classes' work.
        var settings = IsolatedQueues.Settings(TestFunctions.CreateDirectory(_queueName, schedule: "* * * * * *"));
        settings["Omni:Triggers:RunLocally"] = "true";
        settings["Omni:Triggers:RetryDelay"] = "00:00:00.100";
        settings["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200";
        settings["Omni:Triggers:VisibilityTimeout"] = "00:00:02";
        _app = new OmniApp(azurite, settings, services =>
        {
            TestFunctions.Register(services, _probe);
            // The runner's queue client, with message updates failing on demand.
            var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
            options.AddPolicy(_updates, HttpPipelinePosition.PerCall);
            services.AddSingleton(new QueueServiceClient(azurite.ConnectionString, options));
        });
        _app.StartServer();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private QueueClient Queue(string name) =>
        new(azurite.ConnectionString, name, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

    [Fact]
    public async Task RunningItsOwnTriggersTheAppTakesNoInvocationsOverHttp()
    {
        var queue = new HttpRequestMessage(HttpMethod.Post, "/" + TestFunctions.Queue)
        {
            Content = new StringContent("""{"Data":{"message":"\"smuggled\""},"Metadata":{}}""", System.Text.Encoding.UTF8, "application/json"),
        };
        var timer = new HttpRequestMessage(HttpMethod.Post, "/" + TestFunctions.Timer)
        {
            Content = new StringContent("""{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}""", System.Text.Encoding.UTF8, "application/json"),
        };

        var queued = await _app.Anonymous().SendAsync(queue);
        var timed = await _app.Anonymous().SendAsync(timer);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, queued.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, timed.StatusCode);
        Assert.DoesNotContain(_probe.Messages, m => m.Body.Contains("smuggled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AQueuedMessageReachesItsHandlerAndIsDeleted()
    {
        await Queue(_queueName).CreateIfNotExistsAsync();

        await Queue(_queueName).SendMessageAsync("""{"hello":"world"}""");

        await Eventually.HoldsAsync(() => Task.FromResult(_probe.Messages.Any(m => m.Body == """{"hello":"world"}""")), "the handler saw the message");
        await Eventually.HoldsAsync(async () => (await Queue(_queueName).PeekMessagesAsync()).Value.Length == 0, "the queue is empty");
    }

    [Fact]
    public async Task AMessageThatKeepsFailingMovesToThePoisonQueueAfterFiveDequeues()
    {
        await Queue(_queueName).CreateIfNotExistsAsync();

        await Queue(_queueName).SendMessageAsync("always fail");

        await Eventually.HoldsAsync(async () =>
        {
            var poison = Queue(_queueName + "-poison");
            return await poison.ExistsAsync() && (await poison.PeekMessagesAsync()).Value.Any(m => m.MessageText == "always fail");
        }, "the message is in the poison queue");
        Assert.Equal([1L, 2L, 3L, 4L, 5L], _probe.Messages.Where(m => m.Body == "always fail").Select(m => m.DequeueCount).Order());
        Assert.Empty((await Queue(_queueName).PeekMessagesAsync()).Value);
    }

    [Fact]
    public async Task APoisonedMessageNeverExpiresSoAPersonCanStillLookAtItAfterAWeek()
    {
        await Queue(_queueName).CreateIfNotExistsAsync();

        await Queue(_queueName).SendMessageAsync("always fail, kept");

        Azure.Storage.Queues.Models.PeekedMessage? poisoned = null;
        await Eventually.HoldsAsync(async () =>
        {
            var poison = Queue(_queueName + "-poison");
            poisoned = await poison.ExistsAsync() ? (await poison.PeekMessagesAsync(32)).Value.FirstOrDefault(m => m.MessageText == "always fail, kept") : null;
            return poisoned is not null;
        }, "the message is in the poison queue");
        // The service's default time-to-live is 7 days; "never" is its end-of-time expiry.
        Assert.Equal(9999, poisoned!.ExpiresOn!.Value.Year);
    }

    [Fact]
    public async Task TimersFireOnTheScheduleInTheirFunctionJson()
    {
        await Eventually.HoldsAsync(() => Task.FromResult(_probe.Ticks.Count >= 2), "the every-second timer fired twice");

        Assert.All(_probe.Ticks, t => Assert.False(t.IsPastDue));
    }

    [Fact]
    public async Task AHandlerRunningLongerThanTheVisibilityTimeoutKeepsItsMessageFromOtherWorkers()
    {
        await Queue(_queueName).CreateIfNotExistsAsync();

        await Queue(_queueName).SendMessageAsync("slow");
        await Eventually.HoldsAsync(() => Task.FromResult(_probe.Messages.Any(m => m.Body == "slow")), "the handler started");
        // A second worker polls for the whole run, longer than the visibility timeout: the lease keeps the message from it.
        var stolen = 0;
        while (!_probe.Finished.Any(m => m.Body == "slow"))
        {
            stolen += (await Queue(_queueName).ReceiveMessagesAsync(1, TimeSpan.FromSeconds(30))).Value.Length;
            await Task.Delay(100);
        }

        Assert.Equal(0, stolen);
        await Eventually.HoldsAsync(async () => (await Queue(_queueName).PeekMessagesAsync()).Value.Length == 0, "the message is deleted");
        Assert.Single(_probe.Messages, m => m.Body == "slow");
    }

    [Fact]
    public async Task AMessageBeingHandledWhenTheAppStopsIsFinishedAndDeletedNotLeftBehindForAnotherInstance()
    {
        await Queue(_queueName).CreateIfNotExistsAsync();
        _probe.SlowFor = TimeSpan.FromSeconds(2);

        await Queue(_queueName).SendMessageAsync("slow, then stop");
        await Eventually.HoldsAsync(() => Task.FromResult(_probe.Messages.Any(m => m.Body == "slow, then stop")), "the handler started");
        await _app.DisposeAsync();

        Assert.Single(_probe.Finished, m => m.Body == "slow, then stop");
        Assert.Empty((await Queue(_queueName).PeekMessagesAsync()).Value);
    }

    [Fact]
    public async Task AStorageFailureWhileReschedulingAFailedMessageDoesNotStopTheListener()
    {
        await Queue(_queueName).CreateIfNotExistsAsync();
        _updates.Remaining = 1;

        await Queue(_queueName).SendMessageAsync("fail, then storage fails too");
        await Eventually.HoldsAsync(() => Task.FromResult(_updates.Remaining <= 0), "the runner's reschedule failed");
        await Queue(_queueName).SendMessageAsync("the next one");

        await Eventually.HoldsAsync(() => Task.FromResult(_probe.Finished.Any(m => m.Body == "the next one")), "the listener handled the next message");
    }

    /// <summary>Fails the next <see cref="Remaining"/> message updates (the reschedule of a failed message, or a lease renewal).</summary>
    private sealed class FailingUpdates : HttpPipelineSynchronousPolicy
    {
        private int _remaining;

        public int Remaining
        {
            get => Volatile.Read(ref _remaining);
            set => Volatile.Write(ref _remaining, value);
        }

        public override void OnSendingRequest(HttpMessage message)
        {
            if (message.Request.Method == RequestMethod.Put && message.Request.Uri.Query.Contains("popreceipt=", StringComparison.OrdinalIgnoreCase)
                && Interlocked.Decrement(ref _remaining) >= 0)
            {
                throw new Azure.RequestFailedException(500, "The queue service failed (injected by the test).");
            }
        }
    }
}
