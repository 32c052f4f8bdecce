using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Email;

/// <summary>One queued poll of one mailbox; <see cref="Deferrals"/> counts the times it found its company's poll slots all taken.</summary>
public sealed record MailboxPollRequest(
    string CompanyId,
    string ChannelId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Deferrals = 0);

/// <summary>
/// The timer side of polling, for every channel type that has an <see cref="IMailboxPoller"/>. Each run lists the
/// mail channels (one table query) and queues one poll per mailbox for each of its due instants up to the end of
/// the tick it stands for, made invisible until that instant. Due instants are fixed by the clock (multiples of the
/// channel's <c>pollSeconds</c>, shifted by a per-channel offset so mailboxes spread out). What has been queued is
/// kept per mailbox in <see cref="MailboxPollSchedule"/>, claimed and settled a shard batch at a time, so a window
/// is queued exactly once however the timer runs: late (the instants it missed become one poll now), twice at
/// once (the second run finds the rows claimed or done), or failing midway (what it queued is recorded, the rest it
/// hands back to the next run). Only a process killed between queueing a batch and settling it can queue that
/// batch's polls again, once its claim runs out: a second poll of a mailbox finds nothing new.
/// </summary>
public sealed partial class MailboxPollScheduler(
    IChannelStore channels,
    IEnumerable<IMailboxPoller> pollers,
    MailboxPollSchedule schedule,
    QueueServiceClient queues,
    IOptions<EmailOptions> options,
    TimeProvider clock,
    ILogger<MailboxPollScheduler> logger)
{
    public const string Queue = "mailbox-polls";

    /// <summary>Shards fanned out at once, and queue writes at once within each: at most their product in flight.</summary>
    public const int ShardParallelism = 4;

    public const int SendParallelism = 16;

    /// <summary>A claim stands at least this long (or one tick): far longer than queueing one batch takes.</summary>
    private static readonly TimeSpan MinClaim = TimeSpan.FromSeconds(30);

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
        // timers fire a little early as often as a little late, and flooring would then repeat one window.
        var window = WindowOf(now, tick);
        var run = new FanOut(now, window, window + tick, Guid.NewGuid().ToString("N"), tick > MinClaim ? tick : MinClaim);
        var byShard = new Dictionary<string, List<Channel>>(StringComparer.Ordinal);
        var mailboxes = 0;
        await foreach (var channel in channels.ListAllAsync(types, cancellationToken))
        {
            mailboxes++;
            var shard = MailboxPollSchedule.ShardOf(channel.Id);
            if (!byShard.TryGetValue(shard, out var list))
            {
                byShard[shard] = list = [];
            }

            list.Add(channel);
        }

        var queued = 0;
        // The bodies take the caller's token, not the loop's: one shard's failure stops new shards from starting but
        // never cancels a queue write in flight, whose message may already exist and must then be recorded.
        await Parallel.ForEachAsync(byShard, new ParallelOptions { MaxDegreeOfParallelism = ShardParallelism, CancellationToken = cancellationToken },
            async (shard, _) => Interlocked.Add(ref queued, await FanOutShardAsync(run, shard.Key, shard.Value, cancellationToken)));
        LogTicked(mailboxes, window, queued);
        return queued;
    }

    /// <summary>The tick boundary a timer run at <paramref name="now"/> stands for: the nearest one.</summary>
    public static DateTimeOffset WindowOf(DateTimeOffset now, TimeSpan tick) =>
        new((now.UtcTicks + (tick.Ticks / 2)) / tick.Ticks * tick.Ticks, TimeSpan.Zero);

    /// <summary>The instants in [<paramref name="windowStart"/>, +<paramref name="tick"/>) when a mailbox polled every <paramref name="pollSeconds"/> is due.</summary>
    public static IEnumerable<DateTimeOffset> DueInstants(string channelId, int pollSeconds, DateTimeOffset windowStart, TimeSpan tick)
    {
        var (offset, period) = Phase(channelId, pollSeconds);
        for (var t = FirstAtOrAfter(windowStart.UtcTicks, offset, period); t < windowStart.UtcTicks + tick.Ticks; t += period)
        {
            yield return new DateTimeOffset(t, TimeSpan.Zero);
        }
    }

    /// <summary>
    /// The polls that queue every due instant in [<paramref name="from"/>, <paramref name="until"/>), each with its
    /// delay and the point up to which it covers the due instants. Instants already past become one poll now: a
    /// mailbox the timer missed is polled once, late, not once per instant it missed.
    /// </summary>
    public static IEnumerable<(DateTimeOffset Covers, TimeSpan Delay)> PollsOf(string channelId, int pollSeconds, DateTimeOffset from, DateTimeOffset until, DateTimeOffset now)
    {
        var (offset, period) = Phase(channelId, pollSeconds);
        var t = FirstAtOrAfter(from.UtcTicks, offset, period);
        var pastEnd = Math.Min(now.UtcTicks, until.UtcTicks);
        if (t < pastEnd)
        {
            var last = t + ((pastEnd - 1 - t) / period * period);
            yield return (new DateTimeOffset(last + 1, TimeSpan.Zero), TimeSpan.Zero);
            t = last + period;
        }

        for (; t < until.UtcTicks; t += period)
        {
            yield return (new DateTimeOffset(t + 1, TimeSpan.Zero), new DateTimeOffset(t, TimeSpan.Zero) - now);
        }
    }

    private async Task<int> FanOutShardAsync(FanOut run, string shard, List<Channel> mailboxes, CancellationToken cancellationToken)
    {
        var rows = await schedule.ReadShardAsync(shard, cancellationToken);
        await ForgetGoneAsync(run, shard, rows, mailboxes, cancellationToken);
        var queued = 0;
        foreach (var batch in mailboxes.Chunk(MailboxPollSchedule.BatchSize))
        {
            try
            {
                queued += await StorageRetry.OnConflictAsync(clock, "claiming mailbox polls", async attempt =>
                {
                    // Another run changed a row of this batch first: see which rows it left to this one.
                    rows = attempt == 1 ? rows : await schedule.ReadShardAsync(shard, cancellationToken);
                    var claims = batch.Select(c => (Channel: c, Row: rows.GetValueOrDefault(c.Id)))
                        .Where(m => m.Row is null || (!m.Row.IsClaimedByAnother(run.Owner, run.Now) && (m.Row.QueuedUntil ?? DateTimeOffset.MinValue) < run.Until))
                        .Select(m => new MailboxSchedule(m.Channel.Id, m.Channel.CompanyId, m.Row?.QueuedUntil, run.Owner, run.Now + run.Claim, m.Row?.ETag))
                        .ToList();
                    return claims.Count == 0 ? 0 : await QueueClaimedAsync(run, shard, await schedule.WriteAsync(shard, claims, cancellationToken), batch, cancellationToken);
                }, cancellationToken);
            }
            catch (StorageConflictException)
            {
                // Other runs kept taking rows of this batch; whatever none of them queued, the next run does.
                LogBatchContended(shard, batch.Length);
            }
        }

        return queued;
    }

    private async Task<int> QueueClaimedAsync(FanOut run, string shard, IReadOnlyList<MailboxSchedule> claimed, Channel[] batch, CancellationToken cancellationToken)
    {
        var byId = batch.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var progress = new DateTimeOffset?[claimed.Count];
        var queued = 0;
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, claimed.Count), new ParallelOptions { MaxDegreeOfParallelism = SendParallelism, CancellationToken = cancellationToken }, async (i, _) =>
            {
                var channel = byId[claimed[i].ChannelId];
                var body = JsonSerializer.Serialize(new MailboxPollRequest(channel.CompanyId, channel.Id), EmailJsonContext.Default.MailboxPollRequest);
                foreach (var (covers, delay) in PollsOf(channel.Id, EmailSettings.PollSecondsOf(channel), claimed[i].QueuedUntil ?? run.Window, run.Until, run.Now))
                {
                    await _queue.EnqueueAsync(body, delay, cancellationToken);
                    Interlocked.Increment(ref queued);
                    progress[i] = covers;
                }

                progress[i] = run.Until;
            });
        }
        finally
        {
            // Each row records what was queued for it and gives its claim back, so a failed run leaves the rest to
            // the next one at once instead of when the claim would have run out.
            var settled = claimed.Select((r, i) => r with { QueuedUntil = progress[i] ?? r.QueuedUntil ?? run.Window, ClaimOwner = null, ClaimUntil = null }).ToList();
            try
            {
                await schedule.WriteAsync(shard, settled, CancellationToken.None);
            }
            catch (StorageConflictException)
            {
                LogClaimLost(shard, claimed.Count);
            }
        }

        return queued;
    }

    /// <summary>Drops rows of mailboxes that are gone: not listed, and untouched for many ticks (so not just made).</summary>
    private async Task ForgetGoneAsync(FanOut run, string shard, Dictionary<string, MailboxSchedule> rows, List<Channel> mailboxes, CancellationToken cancellationToken)
    {
        var listed = mailboxes.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var stale = run.Now - (10 * (run.Until - run.Window));
        var gone = rows.Values.Where(r => !listed.Contains(r.ChannelId) && (r.QueuedUntil ?? DateTimeOffset.MinValue) < stale && !r.IsClaimedByAnother(run.Owner, run.Now)).ToList();
        try
        {
            await schedule.ForgetAsync(shard, gone, cancellationToken);
        }
        catch (StorageConflictException)
        {
            // Changed meanwhile, so not gone after all: kept.
        }
    }

    private static (long Offset, long Period) Phase(string channelId, int pollSeconds)
    {
        var period = TimeSpan.FromSeconds(Math.Max(pollSeconds, 1)).Ticks;
        return ((long)(BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(channelId))) % (ulong)period), period);
    }

    /// <summary>The first instant ≥ <paramref name="start"/> with (t - offset) % period == 0.</summary>
    private static long FirstAtOrAfter(long start, long offset, long period) => start + ((((offset - start) % period) + period) % period);

    private sealed record FanOut(DateTimeOffset Now, DateTimeOffset Window, DateTimeOffset Until, string Owner, TimeSpan Claim);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Mailbox poll tick: {Mailboxes} mailboxes, window from {WindowStart:O}, {Queued} polls queued")]
    private partial void LogTicked(int mailboxes, DateTimeOffset windowStart, int queued);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox poll tick: {Count} mailboxes of shard {Shard} kept being claimed by other runs; the next run queues what they left")]
    private partial void LogBatchContended(string shard, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox poll tick: the claim of {Count} mailboxes of shard {Shard} was taken over before it was settled; their polls may be queued twice")]
    private partial void LogClaimLost(string shard, int count);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(MailboxPollRequest))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class EmailJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
