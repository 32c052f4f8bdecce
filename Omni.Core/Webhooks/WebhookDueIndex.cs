using System.Collections.Concurrent;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>
/// A delivery's due row (in the delivery's own partition, see <see cref="IWebhookDeliveryStore"/>): the attempt a
/// delivery waits for, looked at by the sweep at <see cref="DueAt"/>, and how often the sweep queued it again already.
/// </summary>
internal sealed record DueAttempt(DateTimeOffset DueAt, DeliveryTask Task, int Rescues);

/// <summary>A bucket row: the channel's partition may hold due rows due at or before <see cref="End"/>.</summary>
internal sealed record DueBucket(DateTimeOffset End, string CompanyId, string ChannelId);

/// <summary>
/// The due index of pending deliveries in two levels, so that the success path of a delivery costs no request of its
/// own for it. The due rows live in each delivery's partition (written and deleted in the same entity-group
/// transactions as the delivery row: publish, the record of an attempt, a redeliver), due
/// <see cref="WebhookOptions.SweepGrace"/> after the attempt they name. This class keeps the global level: one
/// <see cref="DueIndex"/> row per (time bucket, company, channel), <see cref="WebhookOptions.SweepGrace"/> wide, that
/// says "this partition has due rows at or before the bucket's end". A writer of a due row makes sure its bucket row
/// exists first; it remembers the buckets it wrote, so a busy channel writes one per bucket per instance. The sweep
/// reads only the bucket rows that ended more than a grace ago (one range query when idle), then that partition's due rows.
/// </summary>
internal sealed class WebhookDueIndex(TableServiceClient tables, IOptions<WebhookOptions> options, TimeProvider clock)
{
    public const string DefaultTable = "WebhookDue";

    // Far more channels than one instance writes to within a bucket; past it the memory is pruned (then cleared).
    private const int MaxRemembered = 10_000;

    private readonly DueIndex _buckets = new(tables.GetTableClient(options.Value.DueTableName), "due");
    private readonly ConcurrentDictionary<string, DateTimeOffset> _written = new(StringComparer.Ordinal);

    private TimeSpan Grace => options.Value.SweepGrace;

    /// <summary>The due row of the attempt <paramref name="delivery"/> names (its key is rebuilt from the row, so it must not depend on anything else).</summary>
    public DueAttempt AttemptOf(WebhookDelivery delivery) =>
        new(At((delivery.NextAttemptAt ?? delivery.UpdatedAt) + Grace), new DeliveryTask(delivery.CompanyId, delivery.ChannelId, delivery.Id, delivery.Series, delivery.NextAttempt), 0);

    /// <summary>
    /// Due times are kept to the millisecond: the row key is rebuilt from the delivery row's <c>NextAttemptAt</c> as read back
    /// from storage or from a queue message, which must give the same key as the value it was written from.
    /// </summary>
    public static DateTimeOffset At(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    /// <summary>The end of the bucket <paramref name="dueAt"/> falls in; with no grace each due time is its own bucket.</summary>
    public DateTimeOffset BucketEnd(DateTimeOffset dueAt)
    {
        var width = Grace.Ticks;
        var ticks = dueAt.UtcTicks;
        return width <= 0 || ticks % width == 0 ? dueAt : new DateTimeOffset(((ticks / width) + 1) * width, TimeSpan.Zero);
    }

    /// <summary>
    /// Before a due row is written: its bucket row, unless this instance wrote it already (<paramref name="trustMemory"/>).
    /// The sweep passes false for the rows it moves, so a bucket row it deleted is never taken for present.
    /// </summary>
    public async Task EnsureBucketAsync(DueAttempt attempt, bool trustMemory = true, CancellationToken cancellationToken = default)
    {
        var end = BucketEnd(attempt.DueAt);
        var key = Key(attempt.Task.CompanyId, attempt.Task.ChannelId);
        var remembered = $"{end.UtcTicks}|{key}";
        if (trustMemory && _written.ContainsKey(remembered))
        {
            return;
        }

        await _buckets.AddAsync(end, key, new TableEntity { ["CompanyId"] = attempt.Task.CompanyId, ["ChannelId"] = attempt.Task.ChannelId }, cancellationToken);
        // Remembered only once written: a failed upsert is tried again by the next writer.
        Remember(remembered, end);
    }

    /// <summary>
    /// Bucket rows whose end is more than a grace before <paramref name="now"/>, oldest first: the grace tolerates clocks
    /// of instances running behind, so no writer still adds a due row into a bucket that far past.
    /// </summary>
    public async IAsyncEnumerable<DueBucket> OverdueAsync(DateTimeOffset now, int max, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (end, _, row) in _buckets.DueAsync(now - Grace, max, cancellationToken))
        {
            yield return new DueBucket(end, row.GetString("CompanyId"), row.GetString("ChannelId"));
        }
    }

    /// <summary>Once its partition has no due row left at or before its end.</summary>
    public Task DropAsync(DueBucket bucket, CancellationToken cancellationToken = default) =>
        _buckets.DropAsync(bucket.End, Key(bucket.CompanyId, bucket.ChannelId), cancellationToken);

    private void Remember(string key, DateTimeOffset end)
    {
        if (_written.Count >= MaxRemembered)
        {
            // A bucket that ended takes no new due row (they are due a grace after now at the earliest).
            var now = clock.GetUtcNow();
            foreach (var (k, e) in _written)
            {
                if (e < now)
                {
                    _written.TryRemove(k, out _);
                }
            }

            if (_written.Count >= MaxRemembered)
            {
                _written.Clear();
            }
        }

        _written[key] = end;
    }

    private static string Key(string companyId, string channelId) => $"{companyId}|{channelId}";
}
