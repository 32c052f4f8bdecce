using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace Omni.Storage;

/// <summary>
/// What <c>/api/health</c> reports: <see cref="Problem"/> is null when storage answered; <see cref="PoisonMessages"/>,
/// when asked for, is the approximate count of messages in each of the app's poison queues (no tenant data: a count);
/// <see cref="Reconnect"/>, asked for with them, the channels whose provider refused their grant (ids only).
/// </summary>
public sealed record HealthReport(string? Problem, IReadOnlyDictionary<string, int>? PoisonMessages = null, IReadOnlyList<ChannelNeedingReconnect>? Reconnect = null);

/// <summary>Whether storage answers: one cheap read that needs the account, the credential and the network to all work.</summary>
public sealed class StorageHealth(TableServiceClient tables, QueueServiceClient queues, IOptions<StorageOptions> options, IEnumerable<IReconnectIndex> reconnectIndexes)
{
    /// <summary>
    /// The probe, and with <paramref name="withPoisonQueues"/> one properties read per queue the app listens to, so an
    /// operator sees messages its handlers gave up on, and one partition query per channel kind's reconnect index.
    /// Kept off the anonymous probe, which must stay one cheap read.
    /// </summary>
    public async Task<HealthReport> CheckAsync(bool withPoisonQueues, CancellationToken cancellationToken = default)
    {
        var problem = await ProblemAsync(cancellationToken);
        if (problem is not null || !withPoisonQueues)
        {
            return new(problem);
        }

        var (counts, poisonProblem) = await CountPoisonMessagesAsync(cancellationToken);
        if (poisonProblem is not null)
        {
            return new(poisonProblem);
        }

        var reconnect = new List<ChannelNeedingReconnect>();
        foreach (var index in reconnectIndexes)
        {
            try
            {
                reconnect.AddRange(await index.ListAsync(cancellationToken));
            }
            catch (Exception ex) when (IsOutage(ex) || ex is RequestFailedException)
            {
                return new("Storage answered the reconnect index with an error.");
            }
        }

        return new(null, counts, reconnect);
    }

    /// <summary>
    /// One properties read per poison queue of the queues the app listens to: the approximate count of messages in
    /// each, or what went wrong (fit to show an operator) when storage answered one with an error.
    /// </summary>
    public async Task<(IReadOnlyDictionary<string, int> Counts, string? Problem)> CountPoisonMessagesAsync(CancellationToken cancellationToken = default)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var queue in options.Value.Queues)
        {
            var poison = QueueSendPolicy.PoisonQueueOf(queue);
            try
            {
                counts[poison] = (await queues.GetQueueClient(poison).GetPropertiesAsync(cancellationToken)).Value.ApproximateMessagesCount;
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // The host makes a poison queue with its first poisoned message: none yet.
                counts[poison] = 0;
            }
            catch (Exception ex) when (IsOutage(ex) || ex is RequestFailedException)
            {
                return (counts, $"Storage answered the poison queue {poison} with an error.");
            }
        }

        return (counts, null);
    }

    /// <summary>Null when storage answered; otherwise what went wrong, fit to show an operator.</summary>
    public async Task<string?> ProblemAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await foreach (var _ in tables.QueryAsync(maxPerPage: 1, cancellationToken: cancellationToken).AsPages(pageSizeHint: 1))
            {
                break;
            }

            return null;
        }
        catch (RequestFailedException ex) when (ex.Status != 0)
        {
            return $"Storage answered {ex.Status}.";
        }
        catch (Exception ex) when (IsOutage(ex))
        {
            return "Storage could not be reached.";
        }
    }

    /// <summary>
    /// Storage could not be reached or is overloaded, after the SDK's own retries: the request may be tried again
    /// as it is, and nothing of it was acknowledged. A storage answer about the request itself is no outage.
    /// </summary>
    public static bool IsOutage(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 or 408 or 500 or 502 or 503 or 504 } => true,
        HttpRequestException or TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsOutage),
        _ => false,
    };
}
