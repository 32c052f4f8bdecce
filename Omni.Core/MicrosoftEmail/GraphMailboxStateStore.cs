using Azure;
using Azure.Data.Tables;

namespace Omni.MicrosoftEmail;

/// <summary>
/// Where a Graph mailbox's poll resumes: the delta (or next page) link for the mailbox it was made for, and the
/// instant before which Graph asked not to be called again.
/// </summary>
internal sealed record GraphMailboxState(string? MailboxId, string? Cursor, DateTimeOffset? NotBefore, string? ETag);

/// <summary>One row per channel in its company's partition; written only when the cursor or the pause changes.</summary>
internal sealed class GraphMailboxStateStore(TableServiceClient tables)
{
    public const string Table = "GraphMailboxes";
    private readonly TableClient _table = tables.GetTableClient(Table);

    public async Task<GraphMailboxState> GetAsync(string companyId, string channelId, CancellationToken cancellationToken = default)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(companyId, channelId, cancellationToken: cancellationToken);
        return response.HasValue && response.Value is { } e
            ? new GraphMailboxState(e.GetString("MailboxId"), e.GetString("Cursor"), e.GetDateTimeOffset("NotBefore"), e.ETag.ToString())
            : new GraphMailboxState(null, null, null, null);
    }

    /// <summary>
    /// Saves the state if nobody changed it since it was read; returns false on a race (the poll queue's lease makes
    /// that rare: another instance saved a newer cursor, and replaying from the older one is harmless).
    /// </summary>
    public async Task<bool> SaveAsync(string companyId, string channelId, GraphMailboxState state, CancellationToken cancellationToken = default)
    {
        var entity = new TableEntity(companyId, channelId)
        {
            ["MailboxId"] = state.MailboxId,
            ["Cursor"] = state.Cursor,
            ["NotBefore"] = state.NotBefore,
        };
        try
        {
            if (state.ETag is { } etag)
            {
                await _table.UpdateEntityAsync(entity, new ETag(etag), TableUpdateMode.Replace, cancellationToken);
            }
            else
            {
                await _table.AddEntityAsync(entity, cancellationToken);
            }

            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return false;
        }
    }
}
