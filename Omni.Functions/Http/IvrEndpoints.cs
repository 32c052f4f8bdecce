using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Voice;

namespace Omni.Functions.Http;

public sealed record IvrResponse(
    string Id,
    string Name,
    string Country,
    string AreaCode,
    string Number,
    IvrScheduleDraft Schedule,
    IvrMessageDraft Welcome,
    IvrMessageDraft Closed,
    IvrMessageDraft Unanswered,
    IReadOnlyList<IvrMenuDraft?> Menu,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The message an IVR plays first: <c>name</c> is welcome or closed.</summary>
public sealed record IvrPromptResponse(string Name, string? Text, string? Voice, string? AudioId);

public sealed record IvrRouteResponse(bool Open, IvrPromptResponse Prompt, IReadOnlyList<IvrMenuDraft> Menu, string TimeZone, DateTimeOffset LocalTime, DateTimeOffset? NextChange);

/// <summary>IVRs (URA, §8): CRUD with every rule checked, and the route decision at an instant.</summary>
internal static class IvrEndpoints
{
    public static IEndpointRouteBuilder MapIvrEndpoints(this IEndpointRouteBuilder routes)
    {
        var ivrs = routes.MapGroup("/api/companies/{companyId}/ivrs").WithTags("Voice").RequireCompany().RequireScope(Scopes.VoiceWrite);
        ivrs.MapPost("", CreateAsync).WithName("createIvr").WithSummary("Create an IVR (URA) for one of the company's inbound numbers");
        ivrs.MapGet("", ListAsync).WithName("listIvrs").WithSummary("The company's IVRs");
        ivrs.MapGet("/{ivrId}", GetAsync).WithName("getIvr").WithSummary("Get an IVR");
        ivrs.MapPut("/{ivrId}", UpdateAsync).WithName("updateIvr").WithSummary("Replace an IVR");
        ivrs.MapDelete("/{ivrId}", DeleteAsync).WithName("deleteIvr").WithSummary("Delete an IVR; its number can then be released");
        ivrs.MapGet("/{ivrId}/route", RouteAsync).WithName("getIvrRoute").WithSummary("What the IVR plays and offers at an instant (?at=, default now)");
        return routes;
    }

    private static async Task<Results<Created<IvrResponse>, ValidationProblem>> CreateAsync(
        IvrDraft request, Ivrs ivrs, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await ivrs.CreateAsync(tenant.CompanyId, tenant.Actor, request, cancellationToken);
        return result.Ivr is { } ivr
            ? TypedResults.Created($"/api/companies/{tenant.CompanyId}/ivrs/{ivr.Id}", ToResponse(ivr))
            : TypedResults.ValidationProblem(result.Errors!);
    }

    private static async Task<Ok<ListResponse<IvrResponse>>> ListAsync(Ivrs ivrs, TenantContext tenant, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ListResponse<IvrResponse>((await ivrs.ListAsync(tenant.CompanyId, cancellationToken)).Select(ToResponse).ToList()));

    private static async Task<Results<Ok<IvrResponse>, NotFound>> GetAsync(string ivrId, Ivrs ivrs, TenantContext tenant, CancellationToken cancellationToken) =>
        await ivrs.GetAsync(tenant.CompanyId, ivrId, cancellationToken) is { } ivr ? TypedResults.Ok(ToResponse(ivr)) : TypedResults.NotFound();

    private static async Task<Results<Ok<IvrResponse>, NotFound, ValidationProblem>> UpdateAsync(
        string ivrId, IvrDraft request, Ivrs ivrs, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await ivrs.UpdateAsync(tenant.CompanyId, tenant.Actor, ivrId, request, cancellationToken);
        return result.Status switch
        {
            IvrWriteStatus.Saved => TypedResults.Ok(ToResponse(result.Ivr!)),
            IvrWriteStatus.NotFound => TypedResults.NotFound(),
            _ => TypedResults.ValidationProblem(result.Errors!),
        };
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(string ivrId, Ivrs ivrs, TenantContext tenant, CancellationToken cancellationToken) =>
        await ivrs.DeleteAsync(tenant.CompanyId, tenant.Actor, ivrId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Results<Ok<IvrRouteResponse>, NotFound, ValidationProblem>> RouteAsync(
        string ivrId, string? at, Ivrs ivrs, TimeProvider clock, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (VoiceEndpoints.ParseInstant("at", at, out var instant) is { } problem)
        {
            return problem;
        }

        if (await ivrs.RouteAsync(tenant.CompanyId, ivrId, instant ?? clock.GetUtcNow(), cancellationToken) is not { } decision)
        {
            return TypedResults.NotFound();
        }

        var prompt = decision.Prompt;
        return TypedResults.Ok(new IvrRouteResponse(
            decision.Open,
            new IvrPromptResponse(decision.PromptKind == IvrPromptKind.Welcome ? "welcome" : "closed", prompt.Text, prompt.Voice, prompt.AudioId),
            decision.Menu.Select(m => new IvrMenuDraft(m.Digit, m.ServiceId)).ToList(),
            decision.TimeZone,
            decision.LocalTime,
            decision.NextChange));
    }

    private static IvrResponse ToResponse(Ivr ivr)
    {
        var draft = ivr.ToDraft();
        return new IvrResponse(ivr.Id, ivr.Name, ivr.Area.Country, ivr.Area.AreaCode, ivr.Number, draft.Schedule!, draft.Welcome!, draft.Closed!, draft.Unanswered!,
            draft.Menu!, ivr.CreatedAt, ivr.UpdatedAt);
    }
}
