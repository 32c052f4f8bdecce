namespace Omni.Meta;

/// <summary>How Meta's webhooks are taken in (<c>Omni__Meta__*</c>, beside <see cref="MetaOptions"/>).</summary>
public sealed class MetaInboundOptions
{
    public const string DefaultQueueName = "meta-events";

    /// <summary>Meta's events are a few KiB; anything larger is not one of them.</summary>
    public const int MaxEventBytes = 1024 * 1024;

    /// <summary>The queue the MetaEvent function listens to: its <c>function.json</c> names the same one.</summary>
    public string EventsQueueName { get; set; } = DefaultQueueName;

    /// <summary>A media file larger than this is recorded on its message (type, size, id) but not stored (WhatsApp's video and audio limit).</summary>
    public long MaxMediaBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How often an event whose media Meta would not hand over yet is tried before its messages are stored without it.</summary>
    public int MediaAttempts { get; set; } = 5;

    /// <summary>The delay before such an event is tried again (doubling each time).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The table of WhatsApp's expiry due index (<see cref="WhatsAppExpiry"/>; tests give each app its own, as its queues).</summary>
    public string ExpiryTableName { get; set; } = WhatsAppExpiry.DefaultTable;
}
