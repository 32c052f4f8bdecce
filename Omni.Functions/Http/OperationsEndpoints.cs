using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Functions.Hosting;
using Omni.Storage;
using Scalar.AspNetCore;

namespace Omni.Functions.Http;

/// <summary>
/// <paramref name="PoisonQueues"/>: only for the admin, each poison queue's approximate message count;
/// <paramref name="Reconnect"/>: only for the admin, the channels whose owner must consent again (docs/mercadolivre.md).
/// </summary>
public sealed record HealthResponse(
    string Status,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, int>? PoisonQueues = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ReconnectResponse>? Reconnect = null);

/// <summary>A channel whose provider refused its stored grant: its owner must reconnect it.</summary>
public sealed record ReconnectResponse(string CompanyId, string ChannelId, string Type);

internal static class OperationsEndpoints
{
    private const string DocsDescription = "The Omni Channels API: companies, channels, receive_hook, conversations, signed webhooks, bots, voice and their audit. Try any operation with your admin token or a management key.";

    public static IEndpointRouteBuilder MapOperationsEndpoints(this IEndpointRouteBuilder routes)
    {
        // The Functions host waits for any answer on "/" before it sends traffic.
        routes.MapGet("/", () => TypedResults.Ok()).ExcludeFromDescription();
        routes.MapGet("/api/health", HealthAsync).WithName("getHealth").WithTags("Operations").WithSummary("200 when storage answers; with the admin token, the poison queues' message counts and the channels needing reconnect too").AllowAnonymous();
        routes.MapOpenApi("/api/openapi/{documentName}.json").AllowAnonymous();
        routes.MapScalarApiReference("/api/docs", o => o
                .WithTitle(OpenApiSetup.Title)
                .AddHeadContent($"<meta name=\"description\" content=\"{System.Net.WebUtility.HtmlEncode(DocsDescription)}\" />")
                .WithOpenApiRoutePattern("/api/openapi/{documentName}.json")
                // The page's own toolbar ("Deploy", "Share"), its AI chat and MCP buttons sell Scalar's services, not this API.
                .HideDeveloperTools()
                .DisableAgent()
                .DisableMcp()
                .DisableTelemetry()
                // "Test request" starts with the credential most operations take; the others are one click away.
                .AddPreferredSecuritySchemes([OpenApiSecurity.Management, OpenApiSecurity.Admin, OpenApiSecurity.Channel])
                .WithDefaultHttpClient(ScalarTarget.Shell, ScalarClient.Curl))
            .AllowAnonymous();
        return routes;
    }

    private static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> HealthAsync(HttpContext http, IAuthorizationService authorization, StorageHealth storage, CancellationToken cancellationToken)
    {
        // Anonymous probes (the platform's, a load balancer's) get the one cheap read; the admin also sees the poison queues.
        var admin = http.User.Identity?.IsAuthenticated == true && (await authorization.AuthorizeAsync(http.User, http, Policies.Admin)).Succeeded;
        var report = await storage.CheckAsync(withPoisonQueues: admin, cancellationToken);
        return report.Problem is { } problem
            ? TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Storage unavailable", detail: problem)
            : TypedResults.Ok(new HealthResponse("ok", report.PoisonMessages,
                report.Reconnect?.Select(c => new ReconnectResponse(c.CompanyId, c.ChannelId, c.Type)).ToList()));
    }
}
