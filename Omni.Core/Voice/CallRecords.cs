using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Voice;

/// <summary>
/// One call to a company's number: who called, which IVR answered, how it ended (<see cref="Outcome"/>: transferred,
/// closed, unanswered, abandoned, failed), the digits pressed and the service it went to.
/// </summary>
internal sealed record CallRecord(
    string Id, string CompanyId, string From, string To, string? IvrId, DateTimeOffset StartedAt, DateTimeOffset? EndedAt,
    string? Outcome, string Digits, string? ServiceId);

/// <summary>
/// The <c>VoiceCalls</c> table's company partitions, rows newest first: the record of each call, rewritten from the
/// call's state (<see cref="CallStateStore"/>) once ACS took the answer and at each step after; <c>GET …/calls</c> reads them.
/// </summary>
internal sealed class CallRecords(TableServiceClient tables)
{
    public const int MaxListed = 100;

    private readonly TableClient _table = tables.GetTableClient(VoiceStorage.CallsTable);

    /// <summary>Writes the call's row whole (the call flow rewrites it as the call moves on).</summary>
    public async Task SaveAsync(CallRecord call, CancellationToken cancellationToken = default) =>
        await _table.UpsertEntityAsync(new TableEntity(call.CompanyId, RowKey(call))
        {
            ["From"] = call.From,
            ["To"] = call.To,
            ["IvrId"] = call.IvrId,
            ["StartedAt"] = call.StartedAt,
            ["EndedAt"] = call.EndedAt,
            ["Outcome"] = call.Outcome,
            ["Digits"] = call.Digits,
            ["ServiceId"] = call.ServiceId,
        }, TableUpdateMode.Replace, cancellationToken);

    /// <summary>The company's calls started at or after <paramref name="since"/> (all when null), newest first, at most <see cref="MaxListed"/>.</summary>
    public async Task<IReadOnlyList<CallRecord>> ListAsync(string companyId, DateTimeOffset? since, CancellationToken cancellationToken = default)
    {
        var filter = since is { } from
            ? TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and RowKey lt {Ids.ReverseChronological(from) + "~"}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {companyId}");
        var items = new List<CallRecord>();
        await foreach (var e in _table.QueryEntitiesAsync(filter, cancellationToken: cancellationToken))
        {
            items.Add(new CallRecord(e.RowKey[20..], companyId, e.GetString("From"), e.GetString("To"), e.GetString("IvrId"),
                e.GetDateTimeOffset("StartedAt") ?? default, e.GetDateTimeOffset("EndedAt"), e.GetString("Outcome"), e.GetString("Digits") ?? "", e.GetString("ServiceId")));
            if (items.Count == MaxListed)
            {
                break;
            }
        }

        return items;
    }

    private static string RowKey(CallRecord call) => $"{Ids.ReverseChronological(call.StartedAt)}_{call.Id}";
}
