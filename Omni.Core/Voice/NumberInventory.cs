using Azure.Data.Tables;
using Omni.Storage;
using Omni.Validation;

namespace Omni.Voice;

/// <summary>A number of the platform's inventory; <see cref="CompanyId"/> is null while it is free.</summary>
internal sealed record InventoryNumber(string Number, NumberArea Area, string? CompanyId);

/// <summary>An area code of a country and how many of its numbers are free.</summary>
internal sealed record NumberAreaSummary(string Country, string AreaCode, int Available, int Total);

/// <summary>What an inventory add came to: the counts, or the problems by field.</summary>
internal sealed record InventoryAddResult(int Added, int Skipped, Dictionary<string, string[]>? Errors = null);

/// <summary>
/// The platform's numbers by country and area code. A number is held by one company at a time: taking and freeing
/// it are replaces under the row's ETag, so of two companies taking one number at once exactly one wins.
/// </summary>
internal sealed class NumberInventory(TableServiceClient tables, TimeProvider clock)
{
    public const int MaxNumbersPerRequest = 1000;
    private const int MaxListed = 100;

    private readonly TableClient _table = tables.GetTableClient(VoiceStorage.InventoryTable);

    /// <summary>
    /// Adds the numbers, each an E.164 number of <paramref name="country"/> and <paramref name="areaCode"/>, or none
    /// when one is not; those already in the inventory are skipped, whoever holds them.
    /// </summary>
    public async Task<InventoryAddResult> AddAsync(string? country, string? areaCode, IReadOnlyList<string?>? numbers, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrors();
        country = NumberPlan.CheckCountry(errors, country);
        areaCode = NumberPlan.CheckAreaCode(errors, areaCode);

        if (numbers is not { Count: > 0 and <= MaxNumbersPerRequest })
        {
            errors.Add("numbers", $"Between 1 and {MaxNumbersPerRequest} E.164 numbers.");
            numbers = [];
        }

        var area = new NumberArea(country ?? "", areaCode ?? "");
        var checkedNumbers = new List<string>();
        for (var i = 0; i < numbers.Count; i++)
        {
            if (NumberPlan.Parse(numbers[i]?.Trim(), out var error) is not { } parsed)
            {
                errors.Add($"numbers[{i}]", error);
            }
            else if (parsed.Area != area)
            {
                errors.Add($"numbers[{i}]", $"Belongs to {parsed.Area.Country} area code {parsed.Area.AreaCode}, not {area.Country} {area.AreaCode}.");
            }
            else
            {
                checkedNumbers.Add(parsed.Number);
            }
        }

        if (!errors.IsValid)
        {
            return new(0, 0, errors.ToDictionary());
        }

        var added = 0;
        await Parallel.ForEachAsync(checkedNumbers.Distinct(StringComparer.Ordinal), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (number, ct) =>
        {
            if (await _table.TryAddAsync(new TableEntity(area.Key, number)
            {
                ["Country"] = area.Country,
                ["AreaCode"] = area.AreaCode,
                ["CompanyId"] = "",
                ["AddedAt"] = clock.GetUtcNow(),
            }, ct))
            {
                Interlocked.Increment(ref added);
            }
        });
        return new InventoryAddResult(added, checkedNumbers.Count - added);
    }

    public async Task<IReadOnlyList<NumberAreaSummary>> ListAreasAsync(string country, CancellationToken cancellationToken = default)
    {
        var areas = new SortedDictionary<string, (int Free, int Total)>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"PartitionKey gt {country + "-"} and PartitionKey lt {country + "."}");
        await foreach (var e in _table.QueryEntitiesAsync(filter, select: ["AreaCode", "CompanyId"], cancellationToken: cancellationToken))
        {
            var code = e.GetString("AreaCode");
            var (free, total) = areas.GetValueOrDefault(code);
            areas[code] = (free + (string.IsNullOrEmpty(e.GetString("CompanyId")) ? 1 : 0), total + 1);
        }

        return areas.Select(a => new NumberAreaSummary(country, a.Key, a.Value.Free, a.Value.Total)).ToList();
    }

    /// <summary>Free numbers of a country, of one area code when given; the first <see cref="MaxListed"/> in number order.</summary>
    public async Task<IReadOnlyList<InventoryNumber>> ListAvailableAsync(string country, string? areaCode, CancellationToken cancellationToken = default)
    {
        var filter = areaCode is null
            ? TableClient.CreateQueryFilter($"PartitionKey gt {country + "-"} and PartitionKey lt {country + "."} and CompanyId eq {""}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {new NumberArea(country, areaCode).Key} and CompanyId eq {""}");
        var items = new List<InventoryNumber>();
        await foreach (var e in _table.QueryEntitiesAsync(filter, cancellationToken: cancellationToken))
        {
            items.Add(ToNumber(e));
            if (items.Count == MaxListed)
            {
                break;
            }
        }

        return items;
    }

    public async Task<InventoryNumber?> GetAsync(string number, NumberArea area, CancellationToken cancellationToken = default) =>
        await _table.FindAsync(area.Key, number, cancellationToken) is { } e ? ToNumber(e) : null;

    /// <summary>Marks a free number held by <paramref name="companyId"/>; false when it is not free (any more).</summary>
    public Task<bool> ClaimAsync(string number, NumberArea area, string companyId, CancellationToken cancellationToken = default) =>
        MoveAsync(number, area, from: "", to: companyId, cancellationToken);

    /// <summary>Returns the number to the inventory if <paramref name="companyId"/> holds it; false when it does not.</summary>
    public Task<bool> FreeAsync(string number, NumberArea area, string companyId, CancellationToken cancellationToken = default) =>
        MoveAsync(number, area, from: companyId, to: "", cancellationToken);

    private Task<bool> MoveAsync(string number, NumberArea area, string from, string to, CancellationToken cancellationToken) =>
        StorageRetry.OnConflictAsync(clock, "moving a number", async _ =>
        {
            if (await _table.FindAsync(area.Key, number, cancellationToken) is not { } row || row.GetString("CompanyId") != from)
            {
                return false;
            }

            var etag = row.ETag;
            row["CompanyId"] = to;
            row["TakenAt"] = to.Length > 0 ? clock.GetUtcNow() : null;
            return await _table.TryReplaceAsync(row, etag, cancellationToken)
                ? true
                : throw new StorageConflictException("The number changed while it moved.");
        }, cancellationToken);

    private static InventoryNumber ToNumber(TableEntity e) =>
        new(e.RowKey, new NumberArea(e.GetString("Country"), e.GetString("AreaCode")), e.GetString("CompanyId") is { Length: > 0 } c ? c : null);
}
