using Azure.Data.Tables;
using Omni.Audit;
using Omni.Storage;
using Omni.Validation;

namespace Omni.Voice;

/// <summary>A number a company holds; <see cref="IvrId"/> is the IVR that answers it, if any.</summary>
internal sealed record CompanyNumber(string Number, NumberArea Area, bool Inbound, bool Outbound, string? IvrId, DateTimeOffset TakenAt);

internal enum NumberTakeStatus
{
    Taken,
    Invalid,
    HeldElsewhere,
    AlreadyHeld,
}

internal sealed record NumberTake(NumberTakeStatus Status, CompanyNumber? Number = null, Dictionary<string, string[]>? Errors = null);

internal enum NumberReleaseStatus
{
    Released,
    NotFound,
    InUse,
}

/// <summary>
/// Companies taking numbers from the inventory and giving them back. The inventory row is the lock (claimed under its
/// ETag); the company's own row in its setup partition follows it. Each step can be repeated: a take that died after
/// its claim is completed by the company taking the number again, and a release that died after the company's row
/// went is completed by releasing it again.
/// </summary>
internal sealed class CompanyNumbers(TableServiceClient tables, NumberInventory inventory, IAuditLog audit, TimeProvider clock)
{
    private readonly TableClient _setup = tables.GetTableClient(VoiceStorage.SetupTable);

    public async Task<NumberTake> TakeAsync(string companyId, string actor, string? number, bool inbound, bool outbound, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrors();
        var parsed = NumberPlan.Parse(number?.Trim(), out var error);
        if (parsed is null)
        {
            errors.Add("number", error);
        }

        if (!inbound && !outbound)
        {
            errors.Add("inbound", "A number is taken for inbound calls, outbound calls or both: set inbound or outbound to true.");
        }

        var found = parsed is { } p ? await inventory.GetAsync(p.Number, p.Area, cancellationToken) : null;
        if (parsed is not null && found is null)
        {
            errors.Add("number", "Not in the platform's inventory: list GET …/numbers/available for the numbers that can be taken.");
        }

        if (!errors.IsValid)
        {
            return new(NumberTakeStatus.Invalid, Errors: errors.ToDictionary());
        }

        var (e164, area) = parsed!.Value;
        if (found!.CompanyId is { } holder && holder != companyId)
        {
            return new(NumberTakeStatus.HeldElsewhere);
        }

        if (found.CompanyId is null && !await inventory.ClaimAsync(e164, area, companyId, cancellationToken))
        {
            // Another company's claim came first (or a release and a claim both did).
            return new(NumberTakeStatus.HeldElsewhere);
        }

        var held = new CompanyNumber(e164, area, inbound, outbound, null, clock.GetUtcNow());
        if (!await _setup.TryAddAsync(new TableEntity(companyId, VoiceStorage.NumberRow + e164)
        {
            ["Country"] = area.Country,
            ["AreaCode"] = area.AreaCode,
            ["Inbound"] = inbound,
            ["Outbound"] = outbound,
            ["IvrId"] = "",
            ["TakenAt"] = held.TakenAt,
        }, cancellationToken))
        {
            return new(NumberTakeStatus.AlreadyHeld);
        }

        await audit.WriteAsync(companyId, actor, "number.taken", $"numbers/{e164}", ["inbound", "outbound"], cancellationToken);
        return new(NumberTakeStatus.Taken, held);
    }

    public async Task<IReadOnlyList<CompanyNumber>> ListAsync(string companyId, CancellationToken cancellationToken = default)
    {
        var items = new List<CompanyNumber>();
        await foreach (var e in _setup.QueryEntitiesAsync(VoiceStorage.KindFilter(companyId, VoiceStorage.NumberRow), cancellationToken: cancellationToken))
        {
            items.Add(ToNumber(e));
        }

        return items;
    }

    public async Task<CompanyNumber?> GetAsync(string companyId, string number, CancellationToken cancellationToken = default) =>
        await FindRowAsync(companyId, number, cancellationToken) is { } row ? ToNumber(row) : null;

    public async Task<NumberReleaseStatus> ReleaseAsync(string companyId, string actor, string number, CancellationToken cancellationToken = default)
    {
        if (NumberPlan.Parse(number.Trim(), out _) is not { } parsed)
        {
            return NumberReleaseStatus.NotFound;
        }

        var (e164, area) = parsed;

        var outcome = await StorageRetry.OnConflictAsync(clock, "releasing a number", async _ =>
        {
            if (await FindRowAsync(companyId, e164, cancellationToken) is not { } row)
            {
                return NumberReleaseStatus.NotFound;
            }

            if (row.GetString("IvrId") is { Length: > 0 })
            {
                return NumberReleaseStatus.InUse;
            }

            // Under the row's ETag: an IVR that took the number since changed the row, and this attempt reads again.
            await _setup.SubmitAsync([new TableTransactionAction(TableTransactionActionType.Delete, row, row.ETag)], cancellationToken);
            return NumberReleaseStatus.Released;
        }, cancellationToken);

        if (outcome == NumberReleaseStatus.InUse)
        {
            return outcome;
        }

        // Also when the company's row is already gone: a release (or take) that died half-way ends here.
        var freed = await inventory.FreeAsync(e164, area, companyId, cancellationToken);
        if (outcome != NumberReleaseStatus.Released && !freed)
        {
            return NumberReleaseStatus.NotFound;
        }

        await audit.WriteAsync(companyId, actor, "number.released", $"numbers/{e164}", cancellationToken: cancellationToken);
        return NumberReleaseStatus.Released;
    }

    private async Task<TableEntity?> FindRowAsync(string companyId, string number, CancellationToken cancellationToken) =>
        number.StartsWith('+') && number.Length <= 20 ? await _setup.FindAsync(companyId, VoiceStorage.NumberRow + number, cancellationToken) : null;

    internal static CompanyNumber ToNumber(TableEntity e) => new(
        e.RowKey[VoiceStorage.NumberRow.Length..], new NumberArea(e.GetString("Country"), e.GetString("AreaCode")),
        e.GetBoolean("Inbound") ?? false, e.GetBoolean("Outbound") ?? false,
        e.GetString("IvrId") is { Length: > 0 } ivr ? ivr : null, e.GetDateTimeOffset("TakenAt") ?? default);
}
