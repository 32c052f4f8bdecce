namespace Omni.Functions.Triggers;

public sealed class TriggerOptions
{
    public const string Section = "Omni:Triggers";

    /// <summary>Where the function.json folders are; by default the ones shipped beside the binary.</summary>
    public string? FunctionsDirectory { get; set; }

    /// <summary>
    /// Run timers and queue listeners in this process. Null means: yes, unless the Functions host launched us
    /// (it sets FUNCTIONS_CUSTOMHANDLER_PORT and does the triggering itself).
    /// </summary>
    public bool? RunLocally { get; set; }

    /// <summary>As the host's extensions.queues.maxDequeueCount: failures before a message goes to &lt;queue&gt;-poison.</summary>
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>
    /// How long a received message stays invisible; renewed every half of it while its handler works, so a process
    /// that dies frees its messages within this time.
    /// </summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How soon a failed message is tried again: host.json's extensions.queues.visibilityTimeout, so a passing
    /// outage (storage, a deploy) is outlasted by the five tries instead of poisoning the message within seconds.
    /// </summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Polling backs off to this when a queue is empty, as the host's maxPollingInterval.</summary>
    public TimeSpan MaxPollingInterval { get; set; } = TimeSpan.FromSeconds(2);

    public int BatchSize { get; set; } = 16;
}
