namespace Omni.Functions.Triggers;

/// <summary>A queue message as the handler sees it, however it arrived (host invocation or the local runner).</summary>
public sealed record QueueTriggerMessage(string Id, string Body, long DequeueCount, DateTimeOffset? InsertionTime);

/// <summary>A timer tick. Handlers key off their own clock and stored state, never off the host's schedule status.</summary>
public sealed record TimerTriggerInfo(DateTimeOffset Now, bool IsPastDue);

public delegate Task QueueFunctionHandler(IServiceProvider services, QueueTriggerMessage message, CancellationToken cancellationToken);

public delegate Task TimerFunctionHandler(IServiceProvider services, TimerTriggerInfo timer, CancellationToken cancellationToken);

/// <summary>Which code runs for each timer and queue function, by function name.</summary>
public sealed class TriggerRegistry
{
    public Dictionary<string, QueueFunctionHandler> Queues { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, TimerFunctionHandler> Timers { get; } = new(StringComparer.Ordinal);
}

public static class TriggerRegistrationExtensions
{
    /// <summary>Runs <paramref name="handler"/> on <typeparamref name="THandler"/>, resolved in a fresh scope per message.</summary>
    public static IServiceCollection AddQueueFunction<THandler>(this IServiceCollection services, string functionName, Func<THandler, QueueTriggerMessage, CancellationToken, Task> handler)
        where THandler : notnull =>
        services.Configure<TriggerRegistry>(r => r.Queues[functionName] = (sp, message, ct) => handler(sp.GetRequiredService<THandler>(), message, ct));

    public static IServiceCollection AddTimerFunction<THandler>(this IServiceCollection services, string functionName, Func<THandler, TimerTriggerInfo, CancellationToken, Task> handler)
        where THandler : notnull =>
        services.Configure<TriggerRegistry>(r => r.Timers[functionName] = (sp, timer, ct) => handler(sp.GetRequiredService<THandler>(), timer, ct));
}
