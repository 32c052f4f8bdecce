using Microsoft.Extensions.Logging;

namespace Omni.Conversations;

/// <summary>
/// The OutboxSweep timer function: hands on again every outbox item that is overdue, that is whose writer stored it
/// but died (or failed) before handing it on. It reads only the due index rows, so an idle tick is one query; each
/// due row costs a point read of its item, which tells a pending item from one already done or never committed.
/// </summary>
internal sealed partial class OutboxSweep(ConversationOutbox outbox, OutboxHandOff handOff, TimeProvider clock, ILogger<OutboxSweep> logger)
{
    // A tick does a bounded amount of work; what is left is still due at the next one.
    private const int MaxPerTick = 500;

    /// <summary>Returns how many items it handed on.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        var handed = 0;
        await foreach (var item in outbox.DueAsync(clock.GetUtcNow(), MaxPerTick, cancellationToken))
        {
            try
            {
                if (!await outbox.IsPendingAsync(item, cancellationToken))
                {
                    await outbox.DropIndexAsync(item, cancellationToken);
                    continue;
                }

                await handOff.HandOnAsync(item, cancellationToken);
                handed++;
                LogHandedOn(item.Kind, item.Id, item.CompanyId);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One item's failure must not hold up the others; it stays due for the next tick.
                LogFailed(ex, item.Kind, item.Id);
            }
        }

        return handed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox sweep handed on the {Kind} of {ItemId} (company {CompanyId}): its writer did not")]
    private partial void LogHandedOn(OutboxKind kind, string itemId, string companyId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox sweep could not hand on the {Kind} of {ItemId}; it retries at the next tick")]
    private partial void LogFailed(Exception exception, OutboxKind kind, string itemId);
}
