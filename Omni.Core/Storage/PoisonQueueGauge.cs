using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Omni.Telemetry;

namespace Omni.Storage;

/// <summary>
/// <c>omni.queue.poison.depth</c>: the messages waiting in each poison queue, for an alert. Storage is read only when
/// the gauge is collected and its last read is older than <see cref="MaxAge"/>, and then in the background: a
/// collection returns the counts read before (none on the first), so an exporter never waits on storage and an idle
/// app makes one properties read per queue a minute at most. Made only when telemetry is exported.
/// </summary>
public sealed partial class PoisonQueueGauge : IDisposable
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    private readonly Meter _meter = new(OmniTelemetry.Name);
    private readonly StorageHealth _health;
    private readonly TimeProvider _clock;
    private readonly ILogger<PoisonQueueGauge> _logger;
    private IReadOnlyDictionary<string, int> _counts = new Dictionary<string, int>();
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;
    private int _reading;

    public PoisonQueueGauge(StorageHealth health, TimeProvider clock, ILogger<PoisonQueueGauge> logger)
    {
        _health = health;
        _clock = clock;
        _logger = logger;
        _meter.CreateObservableGauge("omni.queue.poison.depth", Observe, "{message}", "Messages in each poison queue (handlers gave up on them), read at most once a minute.");
    }

    public void Dispose() => _meter.Dispose();

    private IEnumerable<Measurement<int>> Observe()
    {
        if (_clock.GetUtcNow() - _readAt >= MaxAge && Interlocked.Exchange(ref _reading, 1) == 0)
        {
            _ = Task.Run(ReadAsync);
        }

        return _counts.Select(c => new Measurement<int>(c.Value, new KeyValuePair<string, object?>("messaging.destination.name", c.Key)));
    }

    private async Task ReadAsync()
    {
        try
        {
            var (counts, problem) = await _health.CountPoisonMessagesAsync();
            if (problem is null)
            {
                _counts = counts;
            }
            else
            {
                LogReadFailed(null, problem);
            }
        }
        catch (Exception ex)
        {
            LogReadFailed(ex, ex.GetType().Name);
        }
        finally
        {
            // A failed read waits its minute too: an outage is not hammered by every collection.
            _readAt = _clock.GetUtcNow();
            Volatile.Write(ref _reading, 0);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the poison queues' depth for telemetry: {Problem}")]
    private partial void LogReadFailed(Exception? exception, string problem);
}
