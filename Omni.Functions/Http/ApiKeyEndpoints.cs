using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Channels;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Webhooks;

namespace Omni.Functions.Http;

public sealed record CreateApiKeyRequest(string? Name);

public sealed record ApiKeyCreatedResponse(string Id, string Name, string Prefix, string Key, DateTimeOffset CreatedAt);

public sealed record ApiKeyResponse(string Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

public sealed record WebhookSecretResponse(string WebhookSecret);

/// <summary>An omni channel's credentials: its API keys and its webhook signing secret (contract section 3).</summary>
internal static class ApiKeyEndpoints
{
    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder routes)
    {
        var keys = routes.MapGroup("/api/companies/{companyId}/channels/{channelId}").WithTags("Channels", "API keys")
            .RequireCompany().RequireScope(Scopes.KeysWrite);
        keys.MapPost("/api-keys", CreateApiKeyAsync).WithName("createApiKey").WithSummary("Issue a channel API key; the key is shown only in this response");
        keys.MapGet("/api-keys", ListApiKeysAsync).WithName("listApiKeys").WithSummary("List a channel's API keys (never the keys themselves)");
        keys.MapDelete("/api-keys/{keyId}", RevokeApiKeyAsync).WithName("revokeApiKey").WithSummary("Revoke a channel API key; it fails at once");
        keys.MapPost("/webhook-secret/rotate", RotateWebhookSecretAsync).WithName("rotateWebhookSecret").WithSummary("New webhook signing secret; the old one keeps signing for 24 h");
        return routes;
    }

    private static async Task<Results<Created<ApiKeyCreatedResponse>, NotFound, ValidationProblem, ProblemHttpResult>> CreateApiKeyAsync(
        string channelId, CreateApiKeyRequest? request, ChannelApiKeys keys, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await keys.IssueAsync(tenant.CompanyId, channelId, request?.Name, tenant.Actor, cancellationToken);
        return result switch
        {
            { Outcome: IssueKeyOutcome.Issued, Issued: { } issued } => TypedResults.Created(
                $"/api/companies/{tenant.CompanyId}/channels/{channelId}/api-keys/{issued.Key.Id}",
                new ApiKeyCreatedResponse(issued.Key.Id, issued.Key.Name, issued.Key.Prefix, issued.Secret, issued.Key.CreatedAt)),
            { Outcome: IssueKeyOutcome.OverQuota, Denial: { } denial } => QuotaProblems.Exceeded(denial),
            { Outcome: IssueKeyOutcome.NotAnOmniChannel } => BadRequest("API keys are issued for omni channels only."),
            { Outcome: IssueKeyOutcome.NameTooLong } => TypedResults.ValidationProblem(
                new Dictionary<string, string[]> { ["name"] = [$"At most {ChannelApiKeys.MaxNameLength} characters."] }),
            _ => TypedResults.NotFound(),
        };
    }

    private static async Task<Results<Ok<ListResponse<ApiKeyResponse>>, NotFound>> ListApiKeysAsync(
        string channelId, ChannelApiKeys keys, TenantContext tenant, CancellationToken cancellationToken) =>
        await keys.ListAsync(tenant.CompanyId, channelId, cancellationToken) is { } list
            ? TypedResults.Ok(new ListResponse<ApiKeyResponse>(list.Select(k => new ApiKeyResponse(k.Id, k.Name, k.Prefix, k.CreatedAt, k.LastUsedAt)).ToList()))
            : TypedResults.NotFound();

    private static async Task<Results<NoContent, NotFound>> RevokeApiKeyAsync(
        string channelId, string keyId, ChannelApiKeys keys, TenantContext tenant, CancellationToken cancellationToken) =>
        await keys.RevokeAsync(tenant.CompanyId, channelId, keyId, tenant.Actor, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Results<Ok<WebhookSecretResponse>, NotFound, ProblemHttpResult>> RotateWebhookSecretAsync(
        string channelId, WebhookSecretRotation rotation, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await rotation.RotateAsync(tenant.CompanyId, channelId, tenant.Actor, cancellationToken);
        return result switch
        {
            { Outcome: SecretRotationOutcome.Rotated, Secret: { } secret } => TypedResults.Ok(new WebhookSecretResponse(secret)),
            { Outcome: SecretRotationOutcome.NotAnOmniChannel } => BadRequest("Only omni channels sign webhooks."),
            { Outcome: SecretRotationOutcome.Conflict } => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: "The channel changed while rotating; retry."),
            _ => TypedResults.NotFound(),
        };
    }

    private static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request", detail: detail);
}
