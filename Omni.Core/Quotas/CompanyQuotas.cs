using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Quotas;

/// <summary>A create the quota does not allow; <see cref="Detail"/> says which limit and what to do.</summary>
internal sealed record QuotaDenial(Quota Quota, int Limit, string Detail)
{
    /// <summary>The quota's setting name (<c>MaxChannelsPerCompany</c>), for the problem document's <c>quota</c> member.</summary>
    public string Name => QuotaOptions.NameOf(Quota);
}

/// <summary>One counted thing of a company: the quota it counts against and its counter row.</summary>
internal readonly record struct QuotaCounter(Quota Quota, string Row)
{
    public static QuotaCounter Channels { get; } = new(Quota.Channels, "channels");

    public static QuotaCounter ManagementKeys { get; } = new(Quota.ManagementKeys, "management-keys");

    public static QuotaCounter ApiKeys(string channelId) => new(Quota.ApiKeys, $"api-keys|{channelId}");
}

/// <summary>
/// Counts what a company has against its quotas: one counter row per counted thing (table <c>QuotaUsage</c>,
/// partition = company), changed only with its ETag through <see cref="StorageRetry"/>, so concurrent creates can
/// never take the count past the limit. A create reserves before it writes and gives the reservation back if its
/// write fails; a delete releases. Only a process that dies between reserving and writing leaves the count one too
/// high, which errs towards refusing: so a counter at its limit that nobody changed for <see cref="RecountAfter"/>
/// (no create can be in flight) is recounted from the rows themselves. A company's first create counts its rows,
/// so companies made before quotas start with their true count.
/// </summary>
internal sealed partial class CompanyQuotas(TableServiceClient tables, IOptions<QuotaOptions> options, TimeProvider clock, ILogger<CompanyQuotas> logger)
{
    public const string Table = "QuotaUsage";

    /// <summary>Longer than any create takes between its reservation and its write.</summary>
    public static readonly TimeSpan RecountAfter = TimeSpan.FromMinutes(5);

    private readonly TableClient _table = tables.GetTableClient(Table);

    /// <summary>
    /// Takes one of the company's <paramref name="counter"/> if its quota allows; null when it did, the denial
    /// otherwise. <paramref name="recount"/> counts the company's real rows (its first use, or a stale counter at the limit).
    /// </summary>
    public async Task<QuotaDenial?> ReserveAsync(string companyId, QuotaCounter counter, Func<CancellationToken, Task<int>> recount, CancellationToken cancellationToken = default)
    {
        var limit = options.Value.LimitOf(companyId, counter.Quota);
        var name = QuotaOptions.NameOf(counter.Quota);
        try
        {
            return await StorageRetry.OnConflictAsync<QuotaDenial?>(clock, $"counting {name}", async _ =>
            {
                var row = await _table.FindAsync(companyId, counter.Row, cancellationToken);
                var count = row?.GetInt32("Count") ?? await recount(cancellationToken);
                if (row is not null && count >= limit && row.Timestamp < clock.GetUtcNow() - RecountAfter)
                {
                    count = Math.Min(count, await recount(cancellationToken));
                }

                if (count >= limit)
                {
                    return new QuotaDenial(counter.Quota, limit, $"The quota {name} is {limit} and this company has reached it; delete one first or ask the operator to raise it.");
                }

                var next = CounterRow(companyId, counter, count + 1);
                var written = row is null ? await _table.TryAddAsync(next, cancellationToken) : await _table.TryReplaceAsync(next, row.ETag, cancellationToken);
                return written ? null : throw new StorageConflictException($"Another create counted against {name} first.");
            }, cancellationToken);
        }
        catch (StorageConflictException)
        {
            // So many creates at once that this one lost every race for the counter: a conflict to retry, never a 500.
            return new QuotaDenial(counter.Quota, limit, $"Too many creates counted against the quota {name} ({limit}) at once; retry.");
        }
    }

    /// <summary>
    /// Runs <paramref name="create"/> within the quota: reserves first, and gives the reservation back when the
    /// create throws. Either what was made or the denial.
    /// </summary>
    public async Task<(T? Made, QuotaDenial? Denial)> CreateWithinAsync<T>(
        string companyId, QuotaCounter counter, Func<CancellationToken, Task<int>> recount, Func<CancellationToken, Task<T>> create, CancellationToken cancellationToken = default)
        where T : class
    {
        if (await ReserveAsync(companyId, counter, recount, cancellationToken) is { } denial)
        {
            return (null, denial);
        }

        try
        {
            return (await create(cancellationToken), null);
        }
        catch
        {
            await ReleaseAsync(companyId, counter, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Gives one back (a delete, or a create whose write failed after it reserved).</summary>
    public async Task ReleaseAsync(string companyId, QuotaCounter counter, CancellationToken cancellationToken = default)
    {
        try
        {
            await StorageRetry.OnConflictAsync(clock, $"releasing {QuotaOptions.NameOf(counter.Quota)}", async _ =>
            {
                var row = await _table.FindAsync(companyId, counter.Row, cancellationToken);
                var count = row?.GetInt32("Count") ?? 0;
                if (row is null || count <= 0)
                {
                    return;
                }

                if (!await _table.TryReplaceAsync(CounterRow(companyId, counter, count - 1), row.ETag, cancellationToken))
                {
                    throw new StorageConflictException("Another writer changed the counter first.");
                }
            }, cancellationToken);
        }
        catch (StorageConflictException)
        {
            // The count stays one high, which only refuses early; the recount at the limit corrects it.
            LogReleaseLost(companyId, QuotaOptions.NameOf(counter.Quota));
        }
    }

    /// <summary>Drops a counter whose rows are gone with their owner (a deleted channel's keys).</summary>
    public Task ForgetAsync(string companyId, QuotaCounter counter, CancellationToken cancellationToken = default) =>
        _table.DeleteIfExistsAsync(companyId, counter.Row, cancellationToken);

    private static TableEntity CounterRow(string companyId, QuotaCounter counter, int count) => new(companyId, counter.Row) { ["Count"] = count };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not give back one {Quota} of company {CompanyId}: the counter kept changing; it is recounted when it reaches the limit")]
    private partial void LogReleaseLost(string companyId, string quota);
}
