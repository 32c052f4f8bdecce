using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Voice;

/// <summary>
/// Calls in flight, one row each in the <c>VoiceCalls</c> table under the partition of its call id (company
/// partitions hold the listed records; call ids and company ids never meet). The row is the call's state machine:
/// every change is a replace under the ETag it was read with, so of two callbacks racing for one step exactly one
/// moves it and the other reads the new state again. Each change also rewrites the company's record of the call
/// (<see cref="CallRecords"/>), once ACS has taken the answer.
/// </summary>
internal sealed class CallStateStore(TableServiceClient tables, CallRecords records, TimeProvider clock)
{
    private const string Row = "call";
    private readonly TableClient _table = tables.GetTableClient(VoiceStorage.CallsTable);

    /// <summary>Adds the call; false when a call of this id exists already (a repeated IncomingCall).</summary>
    public Task<bool> TryAddAsync(CallState call, CancellationToken cancellationToken = default) =>
        _table.TryAddAsync(ToRow(call), cancellationToken);

    public async Task<CallState?> GetAsync(string callId, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(callId) && callId.StartsWith("call_", StringComparison.Ordinal) && await _table.FindAsync(callId, Row, cancellationToken) is { } row
            ? ToState(row)
            : null;

    /// <summary>
    /// Applies <paramref name="change"/> to the stored call and writes the result under the row's ETag, reading and
    /// applying again when another writer came first; <paramref name="change"/> answers null to leave the call as it is.
    /// Returns the call as it was read and as it was written (the same when nothing changed), null when it does not exist.
    /// </summary>
    public async Task<(CallState Before, CallState After)?> UpdateAsync(string callId, Func<CallState, CallState?> change, CancellationToken cancellationToken = default)
    {
        var result = await StorageRetry.OnConflictAsync<(CallState, CallState)?>(clock, "advancing a call", async _ =>
        {
            if (await _table.FindAsync(callId, Row, cancellationToken) is not { } row)
            {
                return null;
            }

            var before = ToState(row);
            if (change(before) is not { } after || after == before)
            {
                return (before, before);
            }

            return await _table.TryReplaceAsync(ToRow(after), row.ETag, cancellationToken)
                ? (before, after)
                : throw new StorageConflictException("The call changed while it was advanced.");
        }, cancellationToken);

        if (result is { Item2: { Step: not CallStep.Answering } after } && (after.Outcome != CallOutcomes.Failed || after.CallConnectionId is not null))
        {
            // Rewritten whole from the state each time, so a record a crash left behind is caught up by the next event.
            await records.SaveAsync(after.ToRecord(), cancellationToken);
        }

        return result;
    }

    private static TableEntity ToRow(CallState c) => new(c.Id, Row)
    {
        ["CompanyId"] = c.CompanyId,
        ["IvrId"] = c.IvrId,
        ["From"] = c.From,
        ["To"] = c.To,
        ["Caller"] = c.Caller,
        ["StartedAt"] = c.StartedAt,
        ["Open"] = c.Open,
        ["Menu"] = string.Join(';', c.Menu.Select(m => $"{m.Key}={m.Value}")),
        ["Step"] = c.Step.ToString(),
        ["Operation"] = c.Operation,
        ["Attempt"] = c.Attempt,
        ["Digits"] = c.Digits,
        ["ServiceId"] = c.ServiceId,
        ["Outcome"] = c.Outcome,
        ["EndedAt"] = c.EndedAt,
        ["CallConnectionId"] = c.CallConnectionId,
        ["SecretHashes"] = string.Join(',', c.SecretHashes),
        ["AnsweringSince"] = c.AnsweringSince,
    };

    private static CallState ToState(TableEntity e) => new(
        e.PartitionKey, e.GetString("CompanyId"), e.GetString("IvrId"), e.GetString("From"), e.GetString("To"), e.GetString("Caller"),
        e.GetDateTimeOffset("StartedAt") ?? default, e.GetBoolean("Open") ?? false,
        (e.GetString("Menu") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal),
        Enum.Parse<CallStep>(e.GetString("Step")), e.GetString("Operation"), e.GetInt32("Attempt") ?? 0, e.GetString("Digits") ?? "",
        e.GetString("ServiceId"), e.GetString("Outcome"), e.GetDateTimeOffset("EndedAt"), e.GetString("CallConnectionId"),
        (e.GetString("SecretHashes") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries), e.GetDateTimeOffset("AnsweringSince"));
}
