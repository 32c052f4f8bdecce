using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Omni.Functions.Triggers;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Triggers;

/// <summary>Records what test-only trigger functions receive, and fails on demand.</summary>
public sealed class TriggerProbe
{
    public ConcurrentQueue<QueueTriggerMessage> Messages { get; } = new();

    public ConcurrentQueue<TimerTriggerInfo> Ticks { get; } = new();

    /// <summary>The messages whose handler has returned.</summary>
    public ConcurrentQueue<QueueTriggerMessage> Finished { get; } = new();

    /// <summary>How long a message whose body says "slow" keeps its handler busy.</summary>
    public TimeSpan SlowFor { get; set; } = TimeSpan.FromSeconds(5);

    public async Task HandleAsync(QueueTriggerMessage message, CancellationToken cancellationToken = default)
    {
        Messages.Enqueue(message);
        if (message.Body.Contains("fail", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The probe was told to fail.");
        }

        if (message.Body.Contains("slow", StringComparison.Ordinal))
        {
            await Task.Delay(SlowFor, cancellationToken);
        }

        Finished.Enqueue(message);
    }

    public Task TickAsync(TimerTriggerInfo timer)
    {
        Ticks.Enqueue(timer);
        return Task.CompletedTask;
    }
}

/// <summary>A functions folder holding the app's real function.json files plus a test queue and timer function.</summary>
internal static class TestFunctions
{
    public const string Queue = "ProbeQueue";
    public const string Timer = "ProbeTimer";

    public static string CreateDirectory(string queueName, string schedule = "0 0 0 1 1 *")
    {
        var dir = Directory.CreateTempSubdirectory("omni-functions-").FullName;
        foreach (var source in Directory.GetDirectories(FunctionManifest.DefaultDirectory))
        {
            var target = Path.Combine(dir, Path.GetFileName(source));
            Directory.CreateDirectory(target);
            File.Copy(Path.Combine(source, "function.json"), Path.Combine(target, "function.json"));
        }

        Write(dir, Queue, $$"""{"bindings":[{"type":"queueTrigger","direction":"in","name":"message","queueName":"{{queueName}}","connection":"AzureWebJobsStorage"}]}""");
        Write(dir, Timer, $$"""{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"{{schedule}}"}]}""");
        return dir;
    }

    public static void Register(IServiceCollection services, TriggerProbe probe)
    {
        services.AddSingleton(probe);
        services.AddQueueFunction<TriggerProbe>(Queue, (p, message, cancellationToken) => p.HandleAsync(message, cancellationToken));
        services.AddTimerFunction<TriggerProbe>(Timer, (p, timer, _) => p.TickAsync(timer));
    }

    /// <summary>POSTs an invocation as the Functions host sends it, with its headers and no credential.</summary>
    public static async Task<HttpResponseMessage> InvokeAsync(OmniApp app, string function, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/" + function) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Azure-Functions-InvocationId", Guid.NewGuid().ToString());
        request.Headers.Add("X-Azure-Functions-HostVersion", "4.1040.300.0");
        return await app.Anonymous().SendAsync(request);
    }

    private static void Write(string dir, string name, string json)
    {
        Directory.CreateDirectory(Path.Combine(dir, name));
        File.WriteAllText(Path.Combine(dir, name, "function.json"), json);
    }
}
