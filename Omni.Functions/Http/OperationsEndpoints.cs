using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Storage;
using Scalar.AspNetCore;

namespace Omni.Functions.Http;

public sealed record HealthResponse(string Status);

internal static class OperationsEndpoints
{
    public static IEndpointRouteBuilder MapOperationsEndpoints(this IEndpointRouteBuilder routes)
    {
        // The Functions host waits for any answer on "/" before it sends traffic.
        routes.MapGet("/", () => TypedResults.Ok()).ExcludeFromDescription();
        routes.MapGet("/api/health", HealthAsync).WithTags("Operations").WithSummary("200 when storage answers").AllowAnonymous();
        routes.MapOpenApi("/api/openapi/{documentName}.json").AllowAnonymous();
        routes.MapScalarApiReference("/api/docs", o => o
                .WithTitle("Omni Channels API")
                .WithOpenApiRoutePattern("/api/openapi/{documentName}.json"))
            .AllowAnonymous();
        return routes;
    }

    private static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> HealthAsync(StorageHealth storage, CancellationToken cancellationToken) =>
        await storage.ProblemAsync(cancellationToken) is { } problem
            ? TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable", detail: problem)
            : TypedResults.Ok(new HealthResponse("ok"));
}
