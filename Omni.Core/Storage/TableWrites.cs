using Azure;
using Azure.Data.Tables;

namespace Omni.Storage;

/// <summary>
/// Conditional Table writes with the SDK's status codes turned into meaning at the store's edge: a lost race becomes
/// <see cref="StorageConflictException"/> or a false, so no <see cref="RequestFailedException"/> or ETag leaves a store.
/// Each method catches only the statuses its operation can answer when another writer came first.
/// </summary>
internal static class TableWrites
{
    /// <summary>
    /// Submits one entity-group transaction. Its conditional actions fail when another writer took a key (409),
    /// changed a row (412) or removed one that is updated or deleted here (404): all three are a conflict.
    /// Answers each action's response in order: their ETags, for a writer that changes the rows again.
    /// </summary>
    public static async Task<IReadOnlyList<Response>> SubmitAsync(this TableClient table, IEnumerable<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        try
        {
            return (await table.SubmitTransactionAsync(actions, cancellationToken)).Value;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 404 or 409 or 412)
        {
            throw new StorageConflictException($"Another writer changed a row of this transaction first (status {ex.Status}).", ex);
        }
    }

    /// <summary>Inserts the row; false when it exists already.</summary>
    public static async Task<bool> TryAddAsync(this TableClient table, TableEntity entity, CancellationToken cancellationToken = default)
    {
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Replaces the row as it was read; false when another writer changed (412) or deleted (404) it since.</summary>
    public static async Task<bool> TryReplaceAsync(this TableClient table, TableEntity entity, ETag readAs, CancellationToken cancellationToken = default)
    {
        try
        {
            await table.UpdateEntityAsync(entity, readAs, TableUpdateMode.Replace, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            return false;
        }
    }

    /// <summary>Deletes the row whatever its version; a row already gone is what was wanted.</summary>
    public static async Task DeleteIfExistsAsync(this TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        try
        {
            await table.DeleteEntityAsync(partitionKey, rowKey, ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>One point read; null when the row does not exist.</summary>
    public static async Task<TableEntity?> FindAsync(this TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }
}
