using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Conversations;
using Omni.Functions.Hosting;

namespace Omni.Functions.Http;

public sealed record ReceiveHookContact(string? ExternalId, string? Name, string? Email, string? Phone);

public sealed record ReceiveHookRequest(
    string? ExternalId,
    ReceiveHookContact? Contact,
    string? ConversationExternalId,
    string? Text,
    IReadOnlyList<AttachmentRequest?>? Attachments,
    JsonObject? Metadata);

public sealed record ReceiveHookResponse(string MessageId, string ConversationId, string Status);

internal static class ReceiveHookEndpoints
{
    public static IEndpointRouteBuilder MapReceiveHookEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/receive_hook", ReceiveAsync).WithName("receiveHook").RequireChannelKey().AcceptApiKeyHeader().WithTags("Receive hook")
            .WithSummary("Receive a message from an integrator (channel API key as Bearer or X-Api-Key); idempotent on externalId")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        return routes;
    }

    private static async Task<Results<Accepted<ReceiveHookResponse>, Ok<ReceiveHookResponse>, ValidationProblem, ProblemHttpResult>> ReceiveAsync(
        ReceiveHookRequest request, InboundMessages inbound, TenantContext tenant, HttpContext http, CancellationToken cancellationToken)
    {
        var contact = request.Contact is { } c ? new HookContact(c.ExternalId, c.Name, c.Email, c.Phone) : null;
        var result = await inbound.ReceiveAsync(tenant.CompanyId, tenant.ChannelId!, new HookMessage(request.ExternalId, contact, request.ConversationExternalId,
            request.Text, AttachmentProblems.Uploads(request.Attachments), request.Metadata), cancellationToken);
        var body = result.Message is { } m ? new ReceiveHookResponse(m.Id, m.ConversationId, "accepted") : null;
        switch (result.Outcome)
        {
            case ReceiveOutcome.Accepted:
                return TypedResults.Accepted((string?)null, body);
            case ReceiveOutcome.Duplicate:
                return TypedResults.Ok(body);
            case ReceiveOutcome.Mismatch:
                return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency key reused",
                    detail: "A message with this externalId was already received with a different body. Use a new externalId for a new message.");
            case ReceiveOutcome.InFlight:
                http.Response.Headers.RetryAfter = "1";
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Request in progress",
                    detail: "A request with this externalId is still being processed. Retry shortly; it will answer with the first request's ids.");
            case ReceiveOutcome.TooLarge:
                return AttachmentProblems.TooLarge(result.Errors!);
            case ReceiveOutcome.ChannelDeleted:
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "The channel of this API key was deleted.");
            case ReceiveOutcome.NotOmniChannel:
                return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "receive_hook takes messages for omni channels only.");
            case ReceiveOutcome.Invalid:
            default:
                return TypedResults.ValidationProblem(result.Errors!);
        }
    }
}
