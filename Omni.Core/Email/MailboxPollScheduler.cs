using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;

namespace Omni.Email;

/// <summary>One queued poll of one mailbox.</summary>
public sealed record MailboxPollRequest(string CompanyId, string ChannelId);

/// <summary>
/// The timer side of polling, for every channel type that has an <see cref="IMailboxPoller"/>. Each tick lists
/// the mail channels (one table query) and queues one poll per mailbox for each of its due instants in the coming
/// tick, made invisible until that instant. Due instants are fixed by the clock (multiples of the channel's
/// <c>pollSeconds</c>, shifted by a per-channel offset so mailboxes spread out), so the tick keeps no state: an
/// idle tick costs the channel query and one queue write per due mailbox, nothing else.
/// </summary>
public sealed partial class MailboxPollScheduler(
    IChannelStore channels,
    IEnumerable<IMailboxPoller> pollers,
    QueueServiceClient queues,
    IOptions<EmailOptions> options,
    ILogger<MailboxPollScheduler> logger)
{
    public const string Queue = "mailbox-polls";

    private readonly QueueClient _queue = queues.GetQueueClient(Queue);

    public async Task<int> TickAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var types = pollers.Select(p => p.ChannelType).Distinct().ToList();
        if (types.Count == 0)
        {
            return 0;
        }

        var tick = options.Value.PollTick;
        // Windows tile the timeline by tick. The run belongs to the nearest tick boundary, not the one before it:
        // timers fire a little early as often as a little late, and flooring would then repeat one window and skip
        // the next (a run within half a tick of its boundary neither skips nor repeats a poll).
        var windowStart = WindowOf(now, tick);
        int queued = 0, mailboxes = 0;
        await foreach (var channel in channels.ListAllAsync(types, cancellationToken))
        {
            mailboxes++;
            foreach (var due in DueInstants(channel.Id, EmailSettings.PollSecondsOf(channel), windowStart, tick))
            {
                var delay = due - now;
                await Storage.QueueSendPolicy.EnqueueAsync(_queue, JsonSerializer.Serialize(new MailboxPollRequest(channel.CompanyId, channel.Id), EmailJsonContext.Default.MailboxPollRequest), delay, cancellationToken);
                queued++;
            }
        }

        LogTicked(mailboxes, windowStart, queued);
        return queued;
    }

    /// <summary>The tick boundary a timer run at <paramref name="now"/> stands for: the nearest one.</summary>
    public static DateTimeOffset WindowOf(DateTimeOffset now, TimeSpan tick) =>
        new((now.UtcTicks + (tick.Ticks / 2)) / tick.Ticks * tick.Ticks, TimeSpan.Zero);

    /// <summary>The instants in [<paramref name="windowStart"/>, +<paramref name="tick"/>) when a mailbox polled every <paramref name="pollSeconds"/> is due.</summary>
    public static IEnumerable<DateTimeOffset> DueInstants(string channelId, int pollSeconds, DateTimeOffset windowStart, TimeSpan tick)
    {
        var period = TimeSpan.FromSeconds(Math.Max(pollSeconds, 1)).Ticks;
        var offset = (long)(BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(channelId))) % (ulong)period);
        var start = windowStart.UtcTicks;
        // First instant ≥ start with (t - offset) % period == 0.
        var first = start + (((offset - start) % period) + period) % period;
        for (var t = first; t < start + tick.Ticks; t += period)
        {
            yield return new DateTimeOffset(t, TimeSpan.Zero);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Mailbox poll tick: {Mailboxes} mailboxes, window from {WindowStart:O}, {Queued} polls queued")]
    private partial void LogTicked(int mailboxes, DateTimeOffset windowStart, int queued);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(MailboxPollRequest))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class EmailJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
