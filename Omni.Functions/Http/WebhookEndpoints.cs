using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Storage;
using Omni.Validation;
using Omni.Webhooks;

namespace Omni.Functions.Http;

public sealed record DeliverySummaryResponse(
    string Id,
    string ChannelId,
    string EventType,
    string? MessageId,
    string? ConversationId,
    DeliveryStatus Status,
    int Attempts,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>One attempt; <c>responseBody</c> is at most the first KiB of what the endpoint answered.</summary>
public sealed record DeliveryAttemptResponse(DateTimeOffset At, int? StatusCode, long ElapsedMs, string? Error, string? ResponseBody);

/// <summary>A delivery with its attempts (the newest ones when there were very many; <c>attemptCount</c> counts all) and the event it carries.</summary>
public sealed record DeliveryResponse(
    string Id,
    string ChannelId,
    string EventType,
    string? MessageId,
    string? ConversationId,
    DeliveryStatus Status,
    int AttemptCount,
    IReadOnlyList<DeliveryAttemptResponse> Attempts,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    JsonNode? Payload);

/// <summary>
/// The webhook delivery audit (contract section 7): a channel API key sees its own channel's deliveries; a
/// management key with audit:read (or the platform admin) names the channel in <c>?channelId=</c>. Anything of another channel is 404.
/// </summary>
internal static class WebhookEndpoints
{
    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder routes)
    {
        // A management key or the admin that leaves out ?channelId= gets a 400 naming it (set in authorization).
        var deliveries = routes.MapGroup("/api/audit/deliveries").WithTags("Audit").RequireChannelKey(Scopes.AuditRead).AcceptApiKeyHeader().ProducesValidationProblem();
        deliveries.MapGet("/", ListAsync).WithName("listDeliveries").WithSummary("Webhook deliveries of the channel, newest first (a management key or the admin names it in ?channelId=)");
        deliveries.MapGet("/{deliveryId}", GetAsync).WithName("getDelivery").WithSummary("One webhook delivery with its attempts");
        deliveries.MapPost("/{deliveryId}/redeliver", RedeliverAsync).WithName("redeliver").ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Start a fresh series of attempts for a delivery (same webhook-id)");
        return routes;
    }

    private static async Task<Results<Ok<ListResponse<DeliverySummaryResponse>>, NotFound, ValidationProblem>> ListAsync(
        string? status, string? since, int? limit, string? continuationToken, string? channelId, WebhookDeliveries deliveries,
        TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        DeliveryStatus? statusFilter = null;
        if (status is not null)
        {
            if (status is "pending" or "succeeded" or "failed")
            {
                statusFilter = Enum.Parse<DeliveryStatus>(status, ignoreCase: true);
            }
            else
            {
                errors.Add("status", "Must be one of: pending, succeeded, failed.");
            }
        }

        DateTimeOffset? sinceFilter = null;
        if (since is not null)
        {
            if (DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                sinceFilter = parsed;
            }
            else
            {
                errors.Add("since", "Must be an ISO-8601 timestamp, for example 2026-11-24T10:00:00Z.");
            }
        }

        if (limit is < 1 or > TablePaging.MaxLimit)
        {
            errors.Add("limit", $"Must be between 1 and {TablePaging.MaxLimit}.");
        }

        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var page = await deliveries.ListAsync(Reader(tenant, channelId), statusFilter, sinceFilter, limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return page is null
            ? TypedResults.NotFound()
            : TypedResults.Ok(new ListResponse<DeliverySummaryResponse>(page.Items.Select(ToSummary).ToList(), page.ContinuationToken));
    }

    private static async Task<Results<Ok<DeliveryResponse>, NotFound>> GetAsync(
        string deliveryId, string? channelId, WebhookDeliveries deliveries, TenantContext tenant, CancellationToken cancellationToken) =>
        await deliveries.GetAsync(Reader(tenant, channelId), deliveryId, cancellationToken) is { } delivery ? TypedResults.Ok(ToResponse(delivery)) : TypedResults.NotFound();

    private static async Task<Results<Accepted<DeliverySummaryResponse>, NotFound, ProblemHttpResult>> RedeliverAsync(
        string deliveryId, string? channelId, WebhookDeliveries deliveries, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await deliveries.RedeliverAsync(Reader(tenant, channelId), deliveryId, cancellationToken);
        return result switch
        {
            { Outcome: RedeliverOutcome.Queued, Delivery: { } queued } => TypedResults.Accepted($"/api/audit/deliveries/{deliveryId}", ToSummary(queued)),
            { Outcome: RedeliverOutcome.InFlight } => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: "An attempt of this delivery is being made right now; retry in a minute."),
            { Outcome: RedeliverOutcome.Conflict } => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: "The delivery changed while the request was made; read it again and retry."),
            _ => TypedResults.NotFound(),
        };
    }

    private static DeliveryReader Reader(TenantContext tenant, string? requestedChannelId) =>
        new(tenant.CompanyId, tenant.ChannelId, tenant.CredentialKind == CredentialKind.Channel, requestedChannelId, tenant.Actor);

    private static DeliverySummaryResponse ToSummary(WebhookDelivery d) => new(
        d.Id, d.ChannelId, d.EventType, d.MessageId, d.ConversationId, d.Status, d.AttemptCount, d.LastStatusCode, d.LastError, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt);

    private static DeliveryResponse ToResponse(WebhookDelivery d) => new(
        d.Id, d.ChannelId, d.EventType, d.MessageId, d.ConversationId, d.Status, d.AttemptCount,
        d.Attempts.Select(a => new DeliveryAttemptResponse(a.At, a.StatusCode, a.ElapsedMs, a.Error, a.ResponseBody)).ToList(),
        d.LastStatusCode, d.LastError, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt,
        d.Payload.IsEmpty ? null : JsonNode.Parse(d.Payload.Span));
}
