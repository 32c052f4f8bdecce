using Azure;
using Azure.Data.Tables;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// The send claim of <see cref="TableConversationStore"/>: before a transport is called, the message row records
/// which attempt is sending it and since when (<c>SendAttempt</c>, <c>SendClaimedAt</c>; 0 means unclaimed), written
/// against the row's ETag so two workers racing on one message cannot both win. Its public status stays
/// <c>queued</c> while claimed: the claim is the sender's bookkeeping, not a state of the contract.
/// </summary>
internal sealed class OutboundClaims(TableClient table, TimeProvider clock)
{
    private const string AttemptColumn = "SendAttempt";
    private const string ClaimedAtColumn = "SendClaimedAt";
    public const string HandOverColumn = "SendHandOver";

    public Task<SendClaim> ClaimAsync(string companyId, string conversationId, string messageId, int attempt, TimeSpan claimTimeout, CancellationToken cancellationToken = default) =>
        // A lost ETag race re-reads: the winner's claim then shows as in flight (or the benign writer's change is kept).
        StorageRetry.OnConflictAsync(clock, $"claiming message {messageId} for sending", async _ =>
        {
            if (!Ids.LooksValid(conversationId) || !Ids.LooksValid(messageId)
                || await table.FindAsync(companyId, ConversationRows.Message(conversationId, messageId), cancellationToken) is not { } row)
            {
                return new SendClaim(ClaimOutcome.Finished, null);
            }

            var message = ToMessage(row);
            if (message.Direction != MessageDirection.Outbound || message.Status is MessageStatus.Sent or MessageStatus.Failed)
            {
                return new SendClaim(ClaimOutcome.Finished, message);
            }

            var now = clock.GetUtcNow();
            var held = row.GetInt32(AttemptColumn) is { } heldAttempt && heldAttempt > 0
                ? new HeldClaim(heldAttempt, row.GetDateTimeOffset(ClaimedAtColumn) ?? default)
                : null;
            if (held is not null && held.ClaimedAt + claimTimeout > now)
            {
                return new SendClaim(ClaimOutcome.InFlight, message, held);
            }

            var claim = new TableEntity(companyId, row.RowKey) { [AttemptColumn] = attempt, [ClaimedAtColumn] = now, [HandOverColumn] = false };
            try
            {
                await table.UpdateEntityAsync(claim, row.ETag, TableUpdateMode.Merge, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                throw new StorageConflictException($"Message {messageId} changed while it was being claimed for sending.", ex);
            }

            return new SendClaim(ClaimOutcome.Claimed, message, held);
        }, cancellationToken);

    public async Task MarkHandOverAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default)
    {
        try
        {
            await table.UpdateEntityAsync(new TableEntity(companyId, ConversationRows.Message(conversationId, messageId)) { [HandOverColumn] = true }, ETag.All, TableUpdateMode.Merge, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Gone with its conversation: nothing is left to send.
        }
    }

    public async Task ReleaseAsync(string companyId, string conversationId, string messageId, CancellationToken cancellationToken = default)
    {
        try
        {
            await table.UpdateEntityAsync(new TableEntity(companyId, ConversationRows.Message(conversationId, messageId)) { [AttemptColumn] = 0 }, ETag.All, TableUpdateMode.Merge, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Gone with its conversation: nothing is left to send.
        }
    }
}
