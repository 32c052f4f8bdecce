using System.Text.Json;
using Azure.Data.Tables;
using Omni.Storage;
using Omni.Validation;

namespace Omni.Voice;

internal enum IvrWriteStatus
{
    Saved,
    NotFound,
    Invalid,
}

internal sealed record IvrWrite(IvrWriteStatus Status, Ivr? Ivr = null, Dictionary<string, string[]>? Errors = null);

/// <summary>
/// IVR rows in the company's setup partition, each written in one transaction with the rows it uses: the number's row
/// records the IVR that answers it (so a number answers one IVR, and cannot be released under one), and each audio's
/// row is touched under its ETag (so a delete that read it before fails and reads again). Every row is written under
/// the ETag it was read with; a lost race is read and checked again.
/// </summary>
internal sealed class IvrStore(TableServiceClient tables, TimeProvider clock)
{
    private readonly TableClient _setup = tables.GetTableClient(VoiceStorage.SetupTable);

    public async Task<IReadOnlyList<Ivr>> ListAsync(string companyId, CancellationToken cancellationToken = default)
    {
        var items = new List<Ivr>();
        await foreach (var e in _setup.QueryEntitiesAsync(VoiceStorage.KindFilter(companyId, VoiceStorage.IvrRow), cancellationToken: cancellationToken))
        {
            items.Add(ToIvr(e));
        }

        return items;
    }

    public async Task<Ivr?> GetAsync(string companyId, string ivrId, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(ivrId) && await _setup.FindAsync(companyId, VoiceStorage.IvrRow + ivrId, cancellationToken) is { } row ? ToIvr(row) : null;

    /// <summary>Creates (<paramref name="create"/>) or replaces the IVR, checking the number and audio it uses as it writes.</summary>
    public Task<IvrWrite> SaveAsync(Ivr ivr, bool create, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, "saving an IVR", async _ =>
        {
            var actions = new List<TableTransactionAction>();
            var existing = create ? null : await _setup.FindAsync(ivr.CompanyId, VoiceStorage.IvrRow + ivr.Id, cancellationToken);
            if (!create && existing is null)
            {
                return new IvrWrite(IvrWriteStatus.NotFound);
            }

            var errors = new ValidationErrors();
            var number = await _setup.FindAsync(ivr.CompanyId, VoiceStorage.NumberRow + ivr.Number, cancellationToken);
            if (number is null || number.GetBoolean("Inbound") != true)
            {
                errors.Add("number", "Must be one of the company's inbound numbers (POST …/numbers with inbound: true).");
            }
            else if (number.GetString("IvrId") is { Length: > 0 } other && other != ivr.Id)
            {
                errors.Add("number", $"Already answered by IVR {other}: a number answers one IVR.");
            }

            foreach (var (path, audioId) in AudioPaths(ivr))
            {
                if (await _setup.FindAsync(ivr.CompanyId, VoiceStorage.AudioRow + audioId, cancellationToken) is not { } audio)
                {
                    errors.Add(path, "No such audio: upload it with POST …/audio first.");
                }
                else if (actions.All(a => a.Entity.RowKey != audio.RowKey))
                {
                    actions.Add(Touch(audio, new() { ["UsedAt"] = clock.GetUtcNow() }));
                }
            }

            if (!errors.IsValid)
            {
                return new IvrWrite(IvrWriteStatus.Invalid, Errors: errors.ToDictionary());
            }

            var saved = existing is null ? ivr : ivr with { CreatedAt = existing.GetDateTimeOffset("CreatedAt") ?? ivr.CreatedAt };
            var row = ToRow(saved);
            actions.Add(existing is null
                ? new TableTransactionAction(TableTransactionActionType.Add, row)
                : new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, existing.ETag));
            actions.Add(Touch(number!, new() { ["IvrId"] = ivr.Id }));
            if (existing?.GetString("Number") is { } previous && previous != ivr.Number
                && await _setup.FindAsync(ivr.CompanyId, VoiceStorage.NumberRow + previous, cancellationToken) is { } old)
            {
                actions.Add(Touch(old, new() { ["IvrId"] = "" }));
            }

            await _setup.SubmitAsync(actions, cancellationToken);
            return new IvrWrite(IvrWriteStatus.Saved, saved);
        }, cancellationToken);

    /// <summary>Deletes the IVR and frees its number for another IVR or a release; false when there is no such IVR.</summary>
    public Task<bool> DeleteAsync(string companyId, string ivrId, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, "deleting an IVR", async _ =>
        {
            if (!Ids.LooksValid(ivrId) || await _setup.FindAsync(companyId, VoiceStorage.IvrRow + ivrId, cancellationToken) is not { } row)
            {
                return false;
            }

            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Delete, row, row.ETag) };
            if (await _setup.FindAsync(companyId, VoiceStorage.NumberRow + row.GetString("Number"), cancellationToken) is { } number && number.GetString("IvrId") == ivrId)
            {
                actions.Add(Touch(number, new() { ["IvrId"] = "" }));
            }

            await _setup.SubmitAsync(actions, cancellationToken);
            return true;
        }, cancellationToken);

    private static IEnumerable<(string Path, string AudioId)> AudioPaths(Ivr ivr) =>
        new[] { ("welcome.audioId", ivr.Welcome), ("closed.audioId", ivr.Closed), ("unanswered.audioId", ivr.Unanswered) }
            .Where(m => m.Item2.AudioId is not null)
            .Select(m => (m.Item1, m.Item2.AudioId!));

    /// <summary>Merges <paramref name="changes"/> into the row as it was read: the transaction fails if another writer changed or removed it.</summary>
    private static TableTransactionAction Touch(TableEntity read, Dictionary<string, object> changes)
    {
        var entity = new TableEntity(read.PartitionKey, read.RowKey);
        foreach (var (key, value) in changes)
        {
            entity[key] = value;
        }

        return new TableTransactionAction(TableTransactionActionType.UpdateMerge, entity, read.ETag);
    }

    private static TableEntity ToRow(Ivr ivr) => new(ivr.CompanyId, VoiceStorage.IvrRow + ivr.Id)
    {
        ["Name"] = ivr.Name,
        ["Number"] = ivr.Number,
        ["Document"] = JsonSerializer.Serialize(ivr.ToDraft(), VoiceJsonContext.Default.IvrDraft),
        ["CreatedAt"] = ivr.CreatedAt,
        ["UpdatedAt"] = ivr.UpdatedAt,
    };

    /// <summary>Stored only after the rules passed, so reading it back runs the same rules.</summary>
    private static Ivr ToIvr(TableEntity e)
    {
        var draft = JsonSerializer.Deserialize(e.GetString("Document"), VoiceJsonContext.Default.IvrDraft)!;
        var errors = new ValidationErrors();
        var ivr = IvrRules.Parse(draft, errors)
            ?? throw new InvalidDataException($"Stored IVR {e.RowKey} no longer passes the rules: {string.Join("; ", errors.ToDictionary().Keys)}");
        return ivr with
        {
            Id = e.RowKey[VoiceStorage.IvrRow.Length..],
            CompanyId = e.PartitionKey,
            CreatedAt = e.GetDateTimeOffset("CreatedAt") ?? default,
            UpdatedAt = e.GetDateTimeOffset("UpdatedAt") ?? default,
        };
    }

}
