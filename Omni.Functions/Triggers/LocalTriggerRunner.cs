using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Cronos;
using Microsoft.Extensions.Options;
using Omni.Functions.Hosting;
using Omni.Storage;

namespace Omni.Functions.Triggers;

/// <summary>
/// Without the Functions host, this process does what the host would: fires the timers on their function.json
/// schedules and listens to the queues, calling the same handlers. A message that fails is tried again after
/// <see cref="TriggerOptions.RetryDelay"/>, and after <see cref="TriggerOptions.MaxDequeueCount"/> failed
/// dequeues it moves to &lt;queue&gt;-poison, as the host does. Each queue is read in batches of
/// <see cref="TriggerOptions.BatchSize"/>, the next one fetched when half the messages in flight are done, as the
/// host's newBatchThreshold does on one core. A message's lease is renewed while its handler runs
/// (<see cref="QueueLease"/>), so a killed process frees its messages within one visibility timeout. A storage
/// failure never ends a listener: it is logged and the loop goes on after a pause. Stopping ends the receiving and
/// the schedules at once but lets the handlers already running finish, as Kestrel lets requests in flight finish:
/// a handler cut off mid-send leaves its claim behind, and the message waits for that claim to go stale (minutes)
/// instead of being done by the next instance. Only when the host's shutdown timeout runs out are they cancelled.
/// </summary>
internal sealed partial class LocalTriggerRunner(
    FunctionCatalog catalog,
    IOptions<TriggerRegistry> registry,
    IOptions<TriggerOptions> options,
    QueueServiceClient queues,
    IServiceScopeFactory scopes,
    TimeProvider clock,
    WorkInFlight work,
    ILogger<LocalTriggerRunner> logger) : BackgroundService
{
    /// <summary>The Functions host launched us: it sets FUNCTIONS_CUSTOMHANDLER_PORT (read from configuration, which holds the environment).</summary>
    public static bool LaunchedByHost(IConfiguration configuration) => !string.IsNullOrEmpty(configuration[HostPortSetting]);

    public static bool ShouldRun(TriggerOptions options, IConfiguration configuration) => options.RunLocally ?? !LaunchedByHost(configuration);

    public const string HostPortSetting = "FUNCTIONS_CUSTOMHANDLER_PORT";

    // Handed to the handlers instead of the stopping token: cancelled only when the shutdown timeout runs out.
    private readonly CancellationTokenSource _abort = new();

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await using (cancellationToken.Register(static abort => ((CancellationTokenSource)abort!).Cancel(), _abort))
        {
            await base.StopAsync(cancellationToken);
        }
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var loops = catalog.Functions.Select(f => f.Kind switch
        {
            TriggerKind.Queue => Task.Run(() => ListenAsync(f, TriggerTracing.Traced(f, registry.Value.Queues[f.Name]), stoppingToken), stoppingToken),
            TriggerKind.Timer => Task.Run(() => ScheduleAsync(f, TriggerTracing.Traced(f, registry.Value.Timers[f.Name]), stoppingToken), stoppingToken),
            _ => Task.CompletedTask,
        }).ToList();
        LogStarted(loops.Count(t => !t.IsCompleted), catalog.Functions.Count(f => f.Kind != TriggerKind.Http));
        return Task.WhenAll(loops);
    }

    private async Task ScheduleAsync(FunctionDefinition function, TimerFunctionHandler handler, CancellationToken stoppingToken)
    {
        var schedule = CronExpression.Parse(function.Schedule ?? throw new InvalidOperationException($"functions/{function.Name}/function.json has no schedule."), CronFormat.IncludeSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = clock.GetUtcNow();
            var next = schedule.GetNextOccurrence(now.UtcDateTime, TimeZoneInfo.Utc);
            if (next is null)
            {
                return;
            }

            await Task.Delay(next.Value - now.UtcDateTime, clock, stoppingToken);
            try
            {
                using var running = work.Begin();
                await using var scope = scopes.CreateAsyncScope();
                await handler(scope.ServiceProvider, new TimerTriggerInfo(clock.GetUtcNow(), IsPastDue: false), _abort.Token);
            }
            catch (Exception ex) when (!_abort.IsCancellationRequested)
            {
                // As on the host: a failed run just waits for the next occurrence.
                LogTimerFailed(ex, function.Name);
            }
        }
    }

    private async Task ListenAsync(FunctionDefinition function, QueueFunctionHandler handler, CancellationToken stoppingToken)
    {
        var o = options.Value;
        var queue = queues.GetQueueClient(function.QueueName);
        var poison = queues.GetQueueClient(QueueSendPolicy.PoisonQueueOf(queue.Name));
        await queue.CreateIfNotExistsAsync(cancellationToken: stoppingToken);
        await poison.CreateIfNotExistsAsync(cancellationToken: stoppingToken);
        var idleDelay = TimeSpan.FromMilliseconds(100);
        // As the host's queue listener: the next batch is fetched as soon as the messages in flight drop to
        // newBatchThreshold (half the batch size), not when the whole batch is done, so one slow message (a sink
        // taking seconds) does not hold the fifteen behind it idle.
        var threshold = NewBatchThreshold(o.BatchSize);
        var inFlight = new HashSet<Task>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                inFlight.RemoveWhere(t => t.IsCompleted);
                if (inFlight.Count > threshold)
                {
                    await Task.WhenAny(inFlight);
                    continue;
                }

                try
                {
                    var batch = (await queue.ReceiveMessagesAsync(o.BatchSize, o.VisibilityTimeout, stoppingToken)).Value;
                    if (batch.Length > 0)
                    {
                        idleDelay = TimeSpan.FromMilliseconds(100);
                        foreach (var message in batch)
                        {
                            inFlight.Add(ProcessAsync(function, handler, queue, poison, message, _abort.Token));
                        }

                        continue;
                    }
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // A listener that died here would leave its queue unread until restart: log, back off, go on.
                    LogReceiveFailed(ex, function.QueueName!);
                }

                await Task.Delay(idleDelay, clock, stoppingToken);
                idleDelay = TimeSpan.FromTicks(Math.Min(idleDelay.Ticks * 2, o.MaxPollingInterval.Ticks));
            }
        }
        finally
        {
            // Stopping ends the receiving, not the handlers already running: they finish (see the summary).
            await Task.WhenAll(inFlight);
        }
    }

    /// <summary>The host's default newBatchThreshold on one core (Flex Consumption): half the batch size.</summary>
    internal static int NewBatchThreshold(int batchSize) => batchSize / 2;

    private async Task ProcessAsync(FunctionDefinition function, QueueFunctionHandler handler, QueueClient queue, QueueClient poison, QueueMessage message, CancellationToken cancellationToken)
    {
        using var running = work.Begin();
        var lease = new QueueLease(queue, message, options.Value.VisibilityTimeout, clock, logger);
        try
        {
            using (var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var renewing = lease.RenewAsync(renewal.Token);
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await handler(scope.ServiceProvider, new QueueTriggerMessage(message.MessageId, message.MessageText, message.DequeueCount, message.InsertedOn), cancellationToken);
                }
                finally
                {
                    await renewal.CancelAsync();
                    await renewing;
                }
            }

            await queue.DeleteMessageAsync(message.MessageId, lease.PopReceipt, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogMessageFailed(ex, function.Name, message.MessageId, message.DequeueCount);
            await RetryOrPoisonAsync(function, queue, poison, message, lease.PopReceipt, cancellationToken);
        }
    }

    private async Task RetryOrPoisonAsync(FunctionDefinition function, QueueClient queue, QueueClient poison, QueueMessage message, string popReceipt, CancellationToken cancellationToken)
    {
        try
        {
            if (message.DequeueCount >= options.Value.MaxDequeueCount)
            {
                await poison.EnqueueAsync(message.MessageText, cancellationToken: cancellationToken);
                await queue.DeleteMessageAsync(message.MessageId, popReceipt, cancellationToken);
                LogPoisoned(function.Name, message.MessageId, poison.Name);
            }
            else
            {
                await queue.UpdateMessageAsync(message.MessageId, popReceipt, visibilityTimeout: options.Value.RetryDelay, cancellationToken: cancellationToken);
            }
        }
        catch (RequestFailedException inner) when (inner.Status == 404)
        {
            // The lease ran out and another receiver has the message: it will be retried there.
        }
        catch (Exception inner) when (!cancellationToken.IsCancellationRequested)
        {
            // Storage failed too: the message comes back when its lease runs out, so the listener just goes on.
            LogRetryFailed(inner, function.Name, message.MessageId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Local triggers running: {Running} of {Total} timer and queue functions")]
    private partial void LogStarted(int running, int total);

    [LoggerMessage(Level = LogLevel.Error, Message = "Timer function {Function} failed; it runs again at its next occurrence")]
    private partial void LogTimerFailed(Exception exception, string function);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read queue {Queue}; retrying")]
    private partial void LogReceiveFailed(Exception exception, string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue function {Function} failed on message {MessageId} (dequeue {DequeueCount})")]
    private partial void LogMessageFailed(Exception exception, string function, string messageId, long dequeueCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue function {Function} could not reschedule message {MessageId}; it returns when its lease runs out")]
    private partial void LogRetryFailed(Exception exception, string function, string messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Queue function {Function} gave up on message {MessageId}; moved to {PoisonQueue}")]
    private partial void LogPoisoned(string function, string messageId, string poisonQueue);
}
