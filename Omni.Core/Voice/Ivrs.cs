using Omni.Audit;
using Omni.Storage;
using Omni.Tenancy;
using Omni.Validation;

namespace Omni.Voice;

/// <summary>The IVR workflows behind the API: the rules, the company's services, saving with its number and audio, auditing, the route decision.</summary>
internal sealed class Ivrs(IvrStore store, ICompanyStore companies, IAuditLog audit, TimeProvider clock)
{
    public Task<IReadOnlyList<Ivr>> ListAsync(string companyId, CancellationToken cancellationToken = default) => store.ListAsync(companyId, cancellationToken);

    public Task<Ivr?> GetAsync(string companyId, string ivrId, CancellationToken cancellationToken = default) => store.GetAsync(companyId, ivrId, cancellationToken);

    public Task<IvrWrite> CreateAsync(string companyId, string actor, IvrDraft draft, CancellationToken cancellationToken = default) =>
        SaveAsync(companyId, actor, Ids.New("ivr"), draft, create: true, cancellationToken);

    public Task<IvrWrite> UpdateAsync(string companyId, string actor, string ivrId, IvrDraft draft, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(ivrId) ? SaveAsync(companyId, actor, ivrId, draft, create: false, cancellationToken) : Task.FromResult(new IvrWrite(IvrWriteStatus.NotFound));

    public async Task<bool> DeleteAsync(string companyId, string actor, string ivrId, CancellationToken cancellationToken = default)
    {
        if (!await store.DeleteAsync(companyId, ivrId, cancellationToken))
        {
            return false;
        }

        await audit.WriteAsync(companyId, actor, "ivr.deleted", $"ivrs/{ivrId}", cancellationToken: cancellationToken);
        return true;
    }

    /// <summary>What the IVR plays and offers at <paramref name="at"/>; null when there is no such IVR.</summary>
    public async Task<IvrDecision?> RouteAsync(string companyId, string ivrId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        await store.GetAsync(companyId, ivrId, cancellationToken) is { } ivr ? IvrRoute.Decide(ivr, at) : null;

    private async Task<IvrWrite> SaveAsync(string companyId, string actor, string ivrId, IvrDraft draft, bool create, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var parsed = IvrRules.Parse(draft, errors);
        if (parsed is null)
        {
            return new(IvrWriteStatus.Invalid, Errors: errors.ToDictionary());
        }

        for (var i = 0; i < parsed.Menu.Count; i++)
        {
            if (!Ids.LooksValid(parsed.Menu[i].ServiceId) || await companies.GetServiceAsync(companyId, parsed.Menu[i].ServiceId, cancellationToken) is null)
            {
                errors.Add($"menu[{i}].serviceId", "Not a service of this company.");
            }
        }

        if (!errors.IsValid)
        {
            return new(IvrWriteStatus.Invalid, Errors: errors.ToDictionary());
        }

        var now = clock.GetUtcNow();
        var result = await store.SaveAsync(parsed with { Id = ivrId, CompanyId = companyId, CreatedAt = now, UpdatedAt = now }, create, cancellationToken);
        if (result.Status == IvrWriteStatus.Saved)
        {
            await audit.WriteAsync(companyId, actor, create ? "ivr.created" : "ivr.updated", $"ivrs/{ivrId}",
                ["name", "country", "areaCode", "number", "schedule", "welcome", "closed", "unanswered", "menu"], cancellationToken);
        }

        return result;
    }
}
