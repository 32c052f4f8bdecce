using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Tenancy;

public interface ICompanyStore
{
    Task<Company> CreateAsync(string name, string timeZone, CancellationToken cancellationToken = default);

    Task<Company?> GetAsync(string companyId, CancellationToken cancellationToken = default);

    Task<Service> CreateServiceAsync(string companyId, string name, string? voiceTarget = null, CancellationToken cancellationToken = default);

    /// <summary>Replaces the service's name and voice target; null when the company has no such service.</summary>
    Task<Service?> UpdateServiceAsync(string companyId, string serviceId, string name, string? voiceTarget, CancellationToken cancellationToken = default);

    Task<Service?> GetServiceAsync(string companyId, string serviceId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<Service>> ListServicesAsync(string companyId, CancellationToken cancellationToken = default);
}

internal sealed class TableCompanyStore(TableServiceClient tables, TimeProvider clock) : ICompanyStore
{
    private readonly TableClient _companies = tables.GetTableClient(StorageNames.CompaniesTable);
    private readonly TableClient _services = tables.GetTableClient(StorageNames.ServicesTable);

    public async Task<Company> CreateAsync(string name, string timeZone, CancellationToken cancellationToken = default)
    {
        var company = new Company(Ids.New("cmp"), name, timeZone, clock.GetUtcNow());
        await _companies.AddEntityAsync(new TableEntity(company.Id, "")
        {
            ["Name"] = company.Name,
            ["TimeZone"] = company.TimeZone,
            ["CreatedAt"] = company.CreatedAt,
        }, cancellationToken);
        return company;
    }

    public async Task<Company?> GetAsync(string companyId, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(companyId))
        {
            return null;
        }

        var response = await _companies.GetEntityIfExistsAsync<TableEntity>(companyId, "", cancellationToken: cancellationToken);
        return response.HasValue && response.Value is { } e
            ? new Company(companyId, e.GetString("Name"), e.GetString("TimeZone"), e.GetDateTimeOffset("CreatedAt") ?? default)
            : null;
    }

    public async Task<Service> CreateServiceAsync(string companyId, string name, string? voiceTarget = null, CancellationToken cancellationToken = default)
    {
        var service = new Service(Ids.New("svc"), companyId, name, clock.GetUtcNow(), voiceTarget);
        await _services.AddEntityAsync(new TableEntity(companyId, service.Id)
        {
            ["Name"] = name,
            ["CreatedAt"] = service.CreatedAt,
            ["VoiceTarget"] = voiceTarget,
        }, cancellationToken);
        return service;
    }

    public async Task<Service?> UpdateServiceAsync(string companyId, string serviceId, string name, string? voiceTarget, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(serviceId) || await _services.FindAsync(companyId, serviceId, cancellationToken) is not { } row)
        {
            return null;
        }

        var etag = row.ETag;
        row["Name"] = name;
        row["VoiceTarget"] = voiceTarget;
        return await _services.TryReplaceAsync(row, etag, cancellationToken)
            ? ToService(row)
            : throw new StorageConflictException("The service changed while it was updated.");
    }

    public async Task<Service?> GetServiceAsync(string companyId, string serviceId, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(serviceId))
        {
            return null;
        }

        var response = await _services.GetEntityIfExistsAsync<TableEntity>(companyId, serviceId, cancellationToken: cancellationToken);
        return response.HasValue && response.Value is { } e ? ToService(e) : null;
    }

    public async Task<IReadOnlyList<Service>> ListServicesAsync(string companyId, CancellationToken cancellationToken = default)
    {
        var items = new List<Service>();
        await foreach (var e in _services.QueryEntitiesAsync(TableClient.CreateQueryFilter($"PartitionKey eq {companyId}"), cancellationToken: cancellationToken))
        {
            items.Add(ToService(e));
        }

        return items;
    }

    private static Service ToService(TableEntity e) =>
        new(e.RowKey, e.PartitionKey, e.GetString("Name"), e.GetDateTimeOffset("CreatedAt") ?? default, e.GetString("VoiceTarget"));
}
