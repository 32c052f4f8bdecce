using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Audit;
using Omni.Channels;
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
        deliveries.MapGet("/", ListAsync).WithSummary("Webhook deliveries of the channel, newest first (a management key or the admin names it in ?channelId=)");
        deliveries.MapGet("/{deliveryId}", GetAsync).WithSummary("One webhook delivery with its attempts");
        deliveries.MapPost("/{deliveryId}/redeliver", RedeliverAsync).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Start a fresh series of attempts for a delivery (same webhook-id)");
        return routes;
    }

    private static async Task<Results<Ok<ListResponse<DeliverySummaryResponse>>, NotFound, ValidationProblem>> ListAsync(
        string? status, string? since, int? limit, string? continuationToken, string? channelId, IWebhookDeliveryStore store, IChannelStore channels,
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

        if (await ChannelAsync(channels, tenant, channelId, cancellationToken) is not { } channel)
        {
            return TypedResults.NotFound();
        }

        var page = await store.ListAsync(tenant.CompanyId, channel, statusFilter, sinceFilter, limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return TypedResults.Ok(new ListResponse<DeliverySummaryResponse>(page.Items.Select(ToSummary).ToList(), page.ContinuationToken));
    }

    private static async Task<Results<Ok<DeliveryResponse>, NotFound>> GetAsync(
        string deliveryId, string? channelId, IWebhookDeliveryStore store, IChannelStore channels, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (await ChannelAsync(channels, tenant, channelId, cancellationToken) is not { } channel
            || await store.GetAsync(tenant.CompanyId, channel, deliveryId, cancellationToken) is not { } delivery)
        {
            return TypedResults.NotFound();
        }

        return TypedResults.Ok(ToResponse(delivery));
    }

    private static async Task<Results<Accepted<DeliverySummaryResponse>, NotFound, ProblemHttpResult>> RedeliverAsync(
        string deliveryId, string? channelId, IWebhookDeliveryStore store, IChannelStore channels, WebhookDeliveryProcessor processor, IAuditLog audit,
        TenantContext tenant, CancellationToken cancellationToken)
    {
        if (await ChannelAsync(channels, tenant, channelId, cancellationToken) is not { } channel
            || await store.GetAsync(tenant.CompanyId, channel, deliveryId, cancellationToken) is not { } delivery)
        {
            return TypedResults.NotFound();
        }

        switch (await processor.RedeliverAsync(delivery, cancellationToken))
        {
            case RedeliverOutcome.InFlight:
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                    detail: "An attempt of this delivery is being made right now; retry in a minute.");
            case RedeliverOutcome.Conflict:
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                    detail: "The delivery changed while the request was made; read it again and retry.");
        }

        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "webhook-delivery.redelivered", $"channels/{channel}/deliveries/{deliveryId}", null, cancellationToken);
        var queued = await store.GetAsync(tenant.CompanyId, channel, deliveryId, cancellationToken) ?? delivery;
        return TypedResults.Accepted($"/api/audit/deliveries/{deliveryId}", ToSummary(queued));
    }

    /// <summary>The channel the caller may read: its own (channel key) or the one it named in its company (management key).</summary>
    private static async Task<string?> ChannelAsync(IChannelStore channels, TenantContext tenant, string? requested, CancellationToken cancellationToken)
    {
        if (tenant.ChannelId is not { } channelId)
        {
            return null;
        }

        if (tenant.CredentialKind == CredentialKind.Channel)
        {
            // As on /api/audit/messages: a channel key naming another channel is answered as a channel that does not exist.
            return requested is null || requested == channelId ? channelId : null;
        }

        // A management key names the channel itself: it must be an omni channel of its own company (deleted ones keep their history).
        return await channels.GetAsync(tenant.CompanyId, channelId, includeDeleted: true, cancellationToken) is { Type: ChannelTypes.Omni } ? channelId : null;
    }

    private static DeliverySummaryResponse ToSummary(WebhookDelivery d) => new(
        d.Id, d.ChannelId, d.EventType, d.MessageId, d.ConversationId, d.Status, d.AttemptCount, d.LastStatusCode, d.LastError, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt);

    private static DeliveryResponse ToResponse(WebhookDelivery d) => new(
        d.Id, d.ChannelId, d.EventType, d.MessageId, d.ConversationId, d.Status, d.AttemptCount,
        d.Attempts.Select(a => new DeliveryAttemptResponse(a.At, a.StatusCode, a.ElapsedMs, a.Error, a.ResponseBody)).ToList(),
        d.LastStatusCode, d.LastError, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt,
        d.Payload.IsEmpty ? null : JsonNode.Parse(d.Payload.Span));
}
