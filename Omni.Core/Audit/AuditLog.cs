using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Audit;

public interface IAuditLog
{
    Task WriteAsync(string companyId, string actor, string action, string target, IReadOnlyList<string>? changedFields = null, CancellationToken cancellationToken = default);

    Task<PagedResult<AuditEvent>> ListAsync(string companyId, int limit, string? continuationToken, CancellationToken cancellationToken = default);
}

internal sealed class TableAuditLog(TableServiceClient tables, TimeProvider clock) : IAuditLog
{
    private readonly TableClient _table = tables.GetTableClient(StorageNames.AuditEventsTable);

    public async Task WriteAsync(string companyId, string actor, string action, string target, IReadOnlyList<string>? changedFields = null, CancellationToken cancellationToken = default)
    {
        var at = clock.GetUtcNow();
        var id = Ids.New("evt");
        var entity = new TableEntity(companyId, Ids.ReverseChronological(at) + "_" + id)
        {
            ["Id"] = id,
            ["Actor"] = actor,
            ["Action"] = action,
            ["Target"] = target,
            ["ChangedFields"] = string.Join(',', changedFields ?? []),
            ["At"] = at,
        };
        await _table.AddEntityAsync(entity, cancellationToken);
    }

    public Task<PagedResult<AuditEvent>> ListAsync(string companyId, int limit, string? continuationToken, CancellationToken cancellationToken = default) =>
        _table.ReadPageAsync(TableClient.CreateQueryFilter($"PartitionKey eq {companyId}"), limit, continuationToken, e => new AuditEvent(
            e.GetString("Id"),
            companyId,
            e.GetString("Actor"),
            e.GetString("Action"),
            e.GetString("Target"),
            e.GetString("ChangedFields") is { Length: > 0 } f ? f.Split(',') : [],
            e.GetDateTimeOffset("At") ?? default), cancellationToken);
}
