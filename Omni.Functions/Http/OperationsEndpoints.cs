using Azure;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Http.HttpResults;
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

    private static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> HealthAsync(TableServiceClient tables, CancellationToken cancellationToken)
    {
        try
        {
            // One cheap read that needs the account, the credential and the network to all work.
            await foreach (var _ in tables.QueryAsync(maxPerPage: 1, cancellationToken: cancellationToken).AsPages(pageSizeHint: 1))
            {
                break;
            }

            return TypedResults.Ok(new HealthResponse("ok"));
        }
        catch (RequestFailedException ex)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable", detail: $"Storage answered {ex.Status}.");
        }
        catch (Exception ex) when (ex is HttpRequestException or AggregateException)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable", detail: "Storage could not be reached.");
        }
    }
}
