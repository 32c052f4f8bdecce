using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Audit;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Storage;
using Omni.Tenancy;
using Omni.Validation;
using Omni.Voice;

namespace Omni.Functions.Http;

public sealed record CreateCompanyRequest(string? Name, string? TimeZone);

public sealed record CompanyResponse(string Id, string Name, string TimeZone, DateTimeOffset CreatedAt);

public sealed record CreateManagementKeyRequest(string? Name, IReadOnlyList<string>? Scopes);

public sealed record ManagementKeyCreatedResponse(string Id, string Name, IReadOnlyList<string> Scopes, string Prefix, string Key, DateTimeOffset CreatedAt);

public sealed record CreateServiceRequest(string? Name, string? VoiceTarget = null);

public sealed record ServiceResponse(string Id, string Name, string? VoiceTarget, DateTimeOffset CreatedAt);

public sealed record AuditEventResponse(string Id, string Actor, string Action, string Target, IReadOnlyList<string> ChangedFields, DateTimeOffset At);

internal static class CompanyEndpoints
{
    public const string DefaultTimeZone = "America/Sao_Paulo";

    public static IEndpointRouteBuilder MapCompanyEndpoints(this IEndpointRouteBuilder routes)
    {
        var admin = routes.MapGroup("/api/companies").WithTags("Companies").RequireAdmin();
        admin.MapPost("/", CreateCompanyAsync).WithName("createCompany").WithSummary("Create a company (tenant)");
        // The admin's key routes also name a company, which must exist.
        var managementKeys = admin.MapGroup("/{companyId}/management-keys").RequireCompany();
        managementKeys.MapPost("", CreateManagementKeyAsync).WithName("createManagementKey").WithSummary("Issue a management key; the key is shown only in this response");
        managementKeys.MapDelete("/{keyId}", RevokeManagementKeyAsync).WithName("revokeManagementKey").WithSummary("Revoke a management key; it fails at once");

        var company = routes.MapGroup("/api/companies/{companyId}").WithTags("Companies").RequireCompany();
        company.MapGet("/", GetCompanyAsync).WithName("getCompany").WithSummary("Get a company");
        company.MapPost("/services", CreateServiceAsync).WithName("createService").RequireScope(Scopes.ChannelsWrite).WithTags("Services").WithSummary("Create a service (attendance queue)");
        company.MapPut("/services/{serviceId}", UpdateServiceAsync).WithName("updateService").RequireScope(Scopes.ChannelsWrite).WithTags("Services").WithSummary("Replace a service's name and voice target");
        company.MapGet("/services", ListServicesAsync).WithName("listServices").RequireScope(Scopes.ChannelsRead).WithTags("Services").WithSummary("List services");
        company.MapGet("/audit/events", ListAuditEventsAsync).WithName("listAuditEvents").RequireScope(Scopes.AuditRead).WithTags("Audit").WithSummary("Configuration changes: who, what, when");
        return routes;
    }

    private static async Task<Results<Created<CompanyResponse>, ValidationProblem>> CreateCompanyAsync(
        CreateCompanyRequest request, ICompanyStore companies, IAuditLog audit, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var name = errors.Required("name", request.Name);
        var timeZone = request.TimeZone?.Trim() is { Length: > 0 } tz ? tz : DefaultTimeZone;
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out _))
        {
            errors.Add("timeZone", "Must be an IANA time zone such as America/Sao_Paulo.");
        }

        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var company = await companies.CreateAsync(name!, timeZone, cancellationToken);
        await audit.WriteAsync(company.Id, tenant.Actor, "company.created", $"companies/{company.Id}", ["name", "timeZone"], cancellationToken);
        return TypedResults.Created($"/api/companies/{company.Id}", ToResponse(company));
    }

    private static async Task<Results<Ok<CompanyResponse>, NotFound>> GetCompanyAsync(ICompanyStore companies, TenantContext tenant, CancellationToken cancellationToken) =>
        await companies.GetAsync(tenant.CompanyId, cancellationToken) is { } company ? TypedResults.Ok(ToResponse(company)) : TypedResults.NotFound();

    private static async Task<Results<Created<ManagementKeyCreatedResponse>, ValidationProblem, ProblemHttpResult>> CreateManagementKeyAsync(
        CreateManagementKeyRequest request, ManagementKeys keys, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var name = errors.Required("name", request.Name);
        var scopes = request.Scopes ?? [];
        if (scopes.Count == 0)
        {
            errors.Add("scopes", "At least one scope is required.");
        }

        for (var i = 0; i < scopes.Count; i++)
        {
            if (scopes[i] is null || !Scopes.All.Contains(scopes[i]))
            {
                errors.Add($"scopes[{i}]", $"Unknown scope. Known scopes: {string.Join(", ", Scopes.All)}.");
            }
        }

        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var result = await keys.IssueAsync(tenant.CompanyId, name!, scopes.Distinct(StringComparer.Ordinal).ToList(), tenant.Actor, cancellationToken);
        if (result.Issued is not { } issued)
        {
            return QuotaProblems.Exceeded(result.Denial!);
        }

        var key = issued.Key;
        return TypedResults.Created($"/api/companies/{tenant.CompanyId}/management-keys/{key.Id}",
            new ManagementKeyCreatedResponse(key.Id, key.Name, key.Scopes, key.Prefix, issued.Secret, key.CreatedAt));
    }

    private static async Task<Results<NoContent, NotFound>> RevokeManagementKeyAsync(
        string keyId, ManagementKeys keys, TenantContext tenant, CancellationToken cancellationToken) =>
        await keys.RevokeAsync(tenant.CompanyId, keyId, tenant.Actor, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Results<Created<ServiceResponse>, ValidationProblem>> CreateServiceAsync(
        CreateServiceRequest request, ICompanyStore companies, IAuditLog audit, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var name = errors.Required("name", request.Name);
        var voiceTarget = VoiceTargets.Check(errors, "voiceTarget", request.VoiceTarget);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var service = await companies.CreateServiceAsync(tenant.CompanyId, name!, voiceTarget, cancellationToken);
        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "service.created", $"services/{service.Id}", ["name", "voiceTarget"], cancellationToken);
        return TypedResults.Created($"/api/companies/{tenant.CompanyId}/services/{service.Id}", ToResponse(service));
    }

    private static async Task<Results<Ok<ServiceResponse>, NotFound, ValidationProblem>> UpdateServiceAsync(
        string serviceId, CreateServiceRequest request, ICompanyStore companies, IAuditLog audit, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var name = errors.Required("name", request.Name);
        var voiceTarget = VoiceTargets.Check(errors, "voiceTarget", request.VoiceTarget);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        if (await companies.UpdateServiceAsync(tenant.CompanyId, serviceId, name!, voiceTarget, cancellationToken) is not { } service)
        {
            return TypedResults.NotFound();
        }

        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "service.updated", $"services/{service.Id}", ["name", "voiceTarget"], cancellationToken);
        return TypedResults.Ok(ToResponse(service));
    }

    private static async Task<Ok<ListResponse<ServiceResponse>>> ListServicesAsync(ICompanyStore companies, TenantContext tenant, CancellationToken cancellationToken)
    {
        var services = await companies.ListServicesAsync(tenant.CompanyId, cancellationToken);
        return TypedResults.Ok(new ListResponse<ServiceResponse>(services.Select(ToResponse).ToList()));
    }

    private static async Task<Ok<ListResponse<AuditEventResponse>>> ListAuditEventsAsync(
        IAuditLog audit, TenantContext tenant, int? limit, string? continuationToken, CancellationToken cancellationToken)
    {
        var page = await audit.ListAsync(tenant.CompanyId, limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return TypedResults.Ok(new ListResponse<AuditEventResponse>(
            page.Items.Select(e => new AuditEventResponse(e.Id, e.Actor, e.Action, e.Target, e.ChangedFields, e.At)).ToList(),
            page.ContinuationToken));
    }

    private static CompanyResponse ToResponse(Company c) => new(c.Id, c.Name, c.TimeZone, c.CreatedAt);

    private static ServiceResponse ToResponse(Service s) => new(s.Id, s.Name, s.VoiceTarget, s.CreatedAt);
}
