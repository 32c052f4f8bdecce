using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// In-flight markers of <see cref="TableConversationStore"/>: (channel, external id) is marked before slow work, so a
/// concurrent duplicate is told to wait (409) instead of repeating it.
/// </summary>
internal sealed class InboundReservations(TableClient table, ConversationReads reads, TimeProvider clock, IOptions<ConversationOptions> options)
{
    public async Task<Reservation> ReserveAsync(string companyId, string channelId, string externalId, string? bodyHash, CancellationToken cancellationToken = default)
    {
        var pendingKey = Pending(channelId, externalId);
        // No pause between attempts: each one that fails has seen the marker change, which is progress.
        for (var attempt = 1; attempt <= StorageRetry.MaxAttempts; attempt++)
        {
            var now = clock.GetUtcNow();
            var marker = new TableEntity(companyId, pendingKey) { ["At"] = now, ["BodyHash"] = bodyHash };
            var existingTask = reads.FindExistingAsync(companyId, channelId, externalId, bodyHash, cancellationToken);
            var addTask = table.TryAddAsync(marker, cancellationToken);
            await Task.WhenAll(existingTask, addTask);
            if (await existingTask is { } existing)
            {
                if (await addTask)
                {
                    await table.DeleteIfExistsAsync(companyId, pendingKey, cancellationToken);
                }

                return new Reservation(ReservationOutcome.Completed, existing);
            }

            if (await addTask)
            {
                return new Reservation(ReservationOutcome.Reserved);
            }

            if (await table.FindAsync(companyId, pendingKey, cancellationToken) is not { } held)
            {
                // Released between our insert and this read: the holder committed, or gave up; look again.
                continue;
            }

            if (now - (held.GetDateTimeOffset("At") ?? now) < options.Value.InFlightTimeout)
            {
                return new Reservation(ReservationOutcome.InFlight);
            }

            // A marker this old belongs to a request that crashed: take it over, against its version, so only one taker wins.
            if (await table.TryReplaceAsync(marker, held.ETag, cancellationToken))
            {
                return new Reservation(ReservationOutcome.Reserved);
            }
        }

        return new Reservation(ReservationOutcome.InFlight);
    }

    public Task ReleaseAsync(string companyId, string channelId, string externalId, CancellationToken cancellationToken = default) =>
        table.DeleteIfExistsAsync(companyId, Pending(channelId, externalId), cancellationToken);
}
