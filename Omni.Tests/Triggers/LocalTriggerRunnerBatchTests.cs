using System.Collections.Concurrent;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Triggers;

/// <summary>
/// The local runner fetches queue messages as the Functions host does: a new batch as soon as the messages in flight
/// drop to half the batch size, so a slow message does not leave the rest of its batch's slots idle.
/// </summary>
public sealed class LocalTriggerRunnerBatchTests(AzuriteFixture azurite)
{
    private const string Function = "GatedQueue";
    private const int BatchSize = 4;

    [Fact]
    public async Task TheNextBatchIsFetchedWhenHalfTheMessagesInFlightAreDoneNotWhenAllAre()
    {
        var queueName = "gated-" + Guid.NewGuid().ToString("N")[..12];
        var queue = new QueueClient(azurite.ConnectionString, queueName, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        await queue.CreateIfNotExistsAsync();
        // Two batches' worth, all queued before the runner starts, so its first receive takes a whole batch.
        for (var i = 0; i < 2 * BatchSize; i++)
        {
            await queue.SendMessageAsync($"m{i}");
        }

        var gate = new Gate();
        await using var provider = Services(queueName, gate);
        using var runner = Runner(provider);
        await runner.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.HoldsAsync(() => Task.FromResult(gate.Started.Count == BatchSize), "the first batch started");
            // Messages being handled are work in flight, which holds the idle memory trim back.
            Assert.Equal(BatchSize, provider.GetRequiredService<WorkInFlight>().Count);
            // One done of four: three still in flight, above the threshold of two, so nothing more is fetched yet.
            gate.Release(gate.Started.First().Id);
            await Eventually.HoldsAsync(() => Task.FromResult(gate.Finished == 1), "the first message finished");
            // Two done: two in flight, the threshold: the next batch is fetched while those two still run.
            gate.Release(gate.Started.Skip(1).First().Id);
            await Eventually.HoldsAsync(() => Task.FromResult(gate.Started.Count == 2 * BatchSize), "the second batch started with two of the first still running");

            var started = gate.Started.ToList();
            Assert.All(started.Take(BatchSize), s => Assert.Equal(0, s.FinishedBefore));
            Assert.All(started.Skip(BatchSize), s => Assert.Equal(2, s.FinishedBefore));
        }
        finally
        {
            gate.ReleaseAll();
            await runner.StopAsync(CancellationToken.None);
        }

        Assert.Equal(2 * BatchSize, gate.Finished);
        Assert.Equal(0, provider.GetRequiredService<WorkInFlight>().Count);
        Assert.Empty((await queue.PeekMessagesAsync()).Value);
    }

    [Fact]
    public void TheThresholdIsHalfTheBatchSizeAsTheHostsDefaultOnOneCore()
    {
        Assert.Equal(8, LocalTriggerRunner.NewBatchThreshold(16));
        Assert.Equal(16, LocalTriggerRunner.NewBatchThreshold(32));
        Assert.Equal(0, LocalTriggerRunner.NewBatchThreshold(1));
    }

    private ServiceProvider Services(string queueName, Gate gate)
    {
        var functions = Directory.CreateTempSubdirectory("omni-gated-").FullName;
        Directory.CreateDirectory(Path.Combine(functions, Function));
        File.WriteAllText(Path.Combine(functions, Function, "function.json"),
            $$"""{"bindings":[{"type":"queueTrigger","direction":"in","name":"message","queueName":"{{queueName}}","connection":"AzureWebJobsStorage"}]}""");
        var services = new ServiceCollection();
        services.AddSingleton(gate);
        services.AddSingleton<WorkInFlight>();
        services.AddQueueFunction<Gate>(Function, (g, message, cancellationToken) => g.HandleAsync(message, cancellationToken));
        services.AddSingleton(Options.Create(new TriggerOptions
        {
            FunctionsDirectory = functions,
            BatchSize = BatchSize,
            MaxPollingInterval = TimeSpan.FromMilliseconds(200),
            VisibilityTimeout = TimeSpan.FromMinutes(1),
        }));
        services.AddSingleton<FunctionCatalog>();
        services.AddSingleton(new QueueServiceClient(azurite.ConnectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 }));
        return services.BuildServiceProvider();
    }

    private static LocalTriggerRunner Runner(ServiceProvider provider) => new(
        provider.GetRequiredService<FunctionCatalog>(),
        provider.GetRequiredService<IOptions<TriggerRegistry>>(),
        provider.GetRequiredService<IOptions<TriggerOptions>>(),
        provider.GetRequiredService<QueueServiceClient>(),
        provider.GetRequiredService<IServiceScopeFactory>(),
        TimeProvider.System,
        provider.GetRequiredService<WorkInFlight>(),
        NullLogger<LocalTriggerRunner>.Instance);

    /// <summary>Holds each message's handler until the test releases it, and records how many had finished when each started.</summary>
    private sealed class Gate
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _held = new();
        private readonly Lock _lock = new();
        private int _finished;
        private bool _releasedAll;

        public ConcurrentQueue<(string Id, int FinishedBefore)> Started { get; } = new();

        public int Finished => Volatile.Read(ref _finished);

        public async Task HandleAsync(QueueTriggerMessage message, CancellationToken cancellationToken)
        {
            var held = _held.GetOrAdd(message.Id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            lock (_lock)
            {
                Started.Enqueue((message.Id, Finished));
                if (_releasedAll)
                {
                    held.TrySetResult();
                }
            }

            await held.Task.WaitAsync(cancellationToken);
            Interlocked.Increment(ref _finished);
        }

        public void Release(string id) => _held[id].TrySetResult();

        public void ReleaseAll()
        {
            lock (_lock)
            {
                _releasedAll = true;
                foreach (var held in _held.Values)
                {
                    held.TrySetResult();
                }
            }
        }
    }
}
