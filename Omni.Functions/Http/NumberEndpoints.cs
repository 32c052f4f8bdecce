using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Validation;
using Omni.Voice;

namespace Omni.Functions.Http;

public sealed record InventoryRequest(string? Country, string? AreaCode, IReadOnlyList<string?>? Numbers);

public sealed record InventoryResponse(int Added, int Skipped);

public sealed record NumberAreaResponse(string Country, string AreaCode, int Available);

public sealed record AvailableNumberResponse(string Number, string Country, string AreaCode);

public sealed record TakeNumberRequest(string? Number, bool? Inbound, bool? Outbound);

public sealed record CompanyNumberResponse(string Number, string Country, string AreaCode, bool Inbound, bool Outbound, string? IvrId, DateTimeOffset TakenAt);

/// <summary>Voice numbers (§8): the platform's inventory (admin), the area codes for the picker, and a company's numbers.</summary>
internal static class NumberEndpoints
{
    public static IEndpointRouteBuilder MapNumberEndpoints(this IEndpointRouteBuilder routes)
    {
        var platform = routes.MapGroup("/api/numbers").WithTags("Voice");
        platform.MapPost("/inventory", AddToInventoryAsync).WithName("addNumbersToInventory").RequireAdmin().WithSummary("Add numbers of one country and area code to the platform's inventory");
        platform.MapGet("/areas", ListAreasAsync).WithName("listNumberAreas").RequireScope(Scopes.VoiceWrite).WithSummary("Area codes of a country that the inventory has numbers in");

        var company = routes.MapGroup("/api/companies/{companyId}/numbers").WithTags("Voice").RequireCompany().RequireScope(Scopes.VoiceWrite);
        company.MapGet("/available", ListAvailableAsync).WithName("listAvailableNumbers").WithSummary("Free numbers of a country (and area code)");
        company.MapPost("", TakeAsync).WithName("takeNumber").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Take a number from the inventory");
        company.MapGet("", ListAsync).WithName("listNumbers").WithSummary("The company's numbers");
        company.MapDelete("/{number}", ReleaseAsync).WithName("releaseNumber").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Return a number to the inventory");
        return routes;
    }

    private static async Task<Results<Created<InventoryResponse>, ValidationProblem>> AddToInventoryAsync(
        InventoryRequest request, NumberInventory inventory, CancellationToken cancellationToken)
    {
        var result = await inventory.AddAsync(request.Country, request.AreaCode, request.Numbers, cancellationToken);
        return result.Errors is { } errors
            ? TypedResults.ValidationProblem(errors)
            : TypedResults.Created("/api/numbers/inventory", new InventoryResponse(result.Added, result.Skipped));
    }

    private static async Task<Results<Ok<ListResponse<NumberAreaResponse>>, ValidationProblem>> ListAreasAsync(
        string? country, NumberInventory inventory, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (NumberPlan.CheckCountry(errors, country) is not { } code)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var areas = await inventory.ListAreasAsync(code, cancellationToken);
        return TypedResults.Ok(new ListResponse<NumberAreaResponse>(areas.Select(a => new NumberAreaResponse(a.Country, a.AreaCode, a.Available)).ToList()));
    }

    private static async Task<Results<Ok<ListResponse<AvailableNumberResponse>>, ValidationProblem>> ListAvailableAsync(
        string? country, string? areaCode, NumberInventory inventory, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var code = NumberPlan.CheckCountry(errors, country);
        var area = areaCode is null ? null : NumberPlan.CheckAreaCode(errors, areaCode);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var numbers = await inventory.ListAvailableAsync(code!, area, cancellationToken);
        return TypedResults.Ok(new ListResponse<AvailableNumberResponse>(numbers.Select(n => new AvailableNumberResponse(n.Number, n.Area.Country, n.Area.AreaCode)).ToList()));
    }

    private static async Task<Results<Created<CompanyNumberResponse>, ValidationProblem, ProblemHttpResult>> TakeAsync(
        TakeNumberRequest request, CompanyNumbers numbers, TenantContext tenant, CancellationToken cancellationToken)
    {
        var take = await numbers.TakeAsync(tenant.CompanyId, tenant.Actor, request.Number, request.Inbound ?? false, request.Outbound ?? false, cancellationToken);
        return take.Status switch
        {
            NumberTakeStatus.Taken => TypedResults.Created($"/api/companies/{tenant.CompanyId}/numbers/{take.Number!.Number}", ToResponse(take.Number)),
            NumberTakeStatus.HeldElsewhere => Conflict("The number belongs to another company."),
            NumberTakeStatus.AlreadyHeld => Conflict("The company holds this number already."),
            _ => TypedResults.ValidationProblem(take.Errors!),
        };
    }

    private static async Task<Ok<ListResponse<CompanyNumberResponse>>> ListAsync(CompanyNumbers numbers, TenantContext tenant, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ListResponse<CompanyNumberResponse>((await numbers.ListAsync(tenant.CompanyId, cancellationToken)).Select(ToResponse).ToList()));

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> ReleaseAsync(
        string number, CompanyNumbers numbers, TenantContext tenant, CancellationToken cancellationToken) =>
        await numbers.ReleaseAsync(tenant.CompanyId, tenant.Actor, number, cancellationToken) switch
        {
            NumberReleaseStatus.Released => TypedResults.NoContent(),
            NumberReleaseStatus.InUse => Conflict("An IVR answers this number: give the IVR another number or delete it first."),
            _ => TypedResults.NotFound(),
        };

    internal static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    private static CompanyNumberResponse ToResponse(CompanyNumber n) =>
        new(n.Number, n.Area.Country, n.Area.AreaCode, n.Inbound, n.Outbound, n.IvrId, n.TakenAt);
}
