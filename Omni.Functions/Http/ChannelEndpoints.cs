using System.Text.Json.Nodes;
using Azure;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Audit;
using Omni.Channels;
using Omni.Credentials;
using Omni.Email;
using Omni.Functions.Hosting;
using Omni.Storage;
using Omni.Validation;
using Omni.Webhooks;

namespace Omni.Functions.Http;

public sealed record ChannelRequest(string? Type, string? Name, string? ServiceId, JsonObject? Settings);

public sealed record ChannelResponse(
    string Id,
    string CompanyId,
    string Type,
    string Name,
    string ServiceId,
    JsonObject Settings,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Only in the response that creates an omni channel: the signing secret, shown once.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? WebhookSecret { get; init; }
}

public sealed record ChannelTestResponse(bool Ok, string Message, IReadOnlyList<ChannelCheck> Checks);

public sealed record CreateApiKeyRequest(string? Name);

public sealed record ApiKeyCreatedResponse(string Id, string Name, string Prefix, string Key, DateTimeOffset CreatedAt);

public sealed record ApiKeyResponse(string Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

public sealed record WebhookSecretResponse(string WebhookSecret);

internal static class ChannelEndpoints
{
    public static IEndpointRouteBuilder MapChannelEndpoints(this IEndpointRouteBuilder routes)
    {
        var channels = routes.MapGroup("/api/companies/{companyId}/channels").WithTags("Channels");
        channels.MapPost("/", CreateAsync).RequireCompanyScope(Scopes.ChannelsWrite).WithSummary("Create a channel");
        channels.MapGet("/", ListAsync).RequireCompanyScope(Scopes.ChannelsRead).WithSummary("List channels, optionally of one type");
        channels.MapGet("/{channelId}", GetAsync).RequireCompanyScope(Scopes.ChannelsRead).WithSummary("Get a channel");
        channels.MapPut("/{channelId}", UpdateAsync).RequireCompanyScope(Scopes.ChannelsWrite).WithSummary("Replace a channel's name, service and settings; secrets left out are kept");
        channels.MapDelete("/{channelId}", DeleteAsync).RequireCompanyScope(Scopes.ChannelsWrite).WithSummary("Delete a channel; its history stays readable");
        channels.MapPost("/{channelId}/test", TestAsync).RequireCompanyScope(Scopes.ChannelsWrite).WithSummary("Testar Configurações: try the settings against the real service");
        channels.MapGet("/{channelId}/signature/preview", PreviewSignatureAsync).RequireCompanyScope(Scopes.ChannelsRead)
            .Produces<string>(StatusCodes.Status200OK, "text/html").WithSummary("The e-mail signature exactly as it is sent");

        var keys = channels.MapGroup("/{channelId}").WithTags("API keys").RequireCompanyScope(Scopes.KeysWrite);
        keys.MapPost("/api-keys", CreateApiKeyAsync).WithSummary("Issue a channel API key; the key is shown only in this response");
        keys.MapGet("/api-keys", ListApiKeysAsync).WithSummary("List a channel's API keys (never the keys themselves)");
        keys.MapDelete("/api-keys/{keyId}", RevokeApiKeyAsync).WithSummary("Revoke a channel API key; it fails at once");
        keys.MapPost("/webhook-secret/rotate", RotateWebhookSecretAsync).WithSummary("New webhook signing secret; the old one keeps signing for 24 h");
        return routes;
    }

    private static async Task<Results<Created<ChannelResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        ChannelRequest request, ChannelService channels, TenantContext tenant, CancellationToken cancellationToken)
    {
        var outcome = await channels.CreateAsync(Caller(tenant), Draft(request), cancellationToken);
        return outcome.Status switch
        {
            ChannelWriteStatus.Saved => TypedResults.Created($"/api/companies/{tenant.CompanyId}/channels/{outcome.Channel!.Id}",
                ToResponse(outcome.Channel, channels) with { WebhookSecret = outcome.ShownOnce.GetValueOrDefault(WebhookSecrets.CurrentField) }),
            ChannelWriteStatus.Forbidden => Forbidden(outcome),
            _ => TypedResults.ValidationProblem(outcome.Errors!),
        };
    }

    private static async Task<Results<Ok<ListResponse<ChannelResponse>>, ValidationProblem>> ListAsync(
        string? type, ChannelService channels, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        return await channels.ListAsync(tenant.CompanyId, type, errors, cancellationToken) is { } found
            ? TypedResults.Ok(new ListResponse<ChannelResponse>(found.Select(c => ToResponse(c, channels)).ToList()))
            : TypedResults.ValidationProblem(errors.ToDictionary());
    }

    private static async Task<Results<Ok<ChannelResponse>, NotFound>> GetAsync(string channelId, IChannelStore store, ChannelService channels, TenantContext tenant, CancellationToken cancellationToken) =>
        await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken) is { } channel ? TypedResults.Ok(ToResponse(channel, channels)) : TypedResults.NotFound();

    private static async Task<Results<Ok<ChannelResponse>, NotFound, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string channelId, ChannelRequest request, ChannelService channels, TenantContext tenant, CancellationToken cancellationToken)
    {
        var outcome = await channels.UpdateAsync(Caller(tenant), channelId, Draft(request), cancellationToken);
        return outcome.Status switch
        {
            ChannelWriteStatus.Saved => TypedResults.Ok(ToResponse(outcome.Channel!, channels)),
            ChannelWriteStatus.NotFound => TypedResults.NotFound(),
            ChannelWriteStatus.Forbidden => Forbidden(outcome),
            ChannelWriteStatus.Conflict => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: outcome.Detail),
            _ => TypedResults.ValidationProblem(outcome.Errors!),
        };
    }

    private static async Task<Results<NoContent, NotFound, ProblemHttpResult>> DeleteAsync(
        string channelId, ChannelService channels, TenantContext tenant, CancellationToken cancellationToken) =>
        await channels.DeleteAsync(Caller(tenant), channelId, cancellationToken) switch
        {
            ChannelDeleteStatus.Deleted => TypedResults.NoContent(),
            ChannelDeleteStatus.NotFound => TypedResults.NotFound(),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: "The channel kept changing while it was deleted; retry."),
        };

    private static async Task<Results<Ok<ChannelTestResponse>, NotFound>> TestAsync(
        string channelId, ChannelService channels, TenantContext tenant, CancellationToken cancellationToken) =>
        await channels.TestAsync(tenant.CompanyId, channelId, cancellationToken) is { } report
            ? TypedResults.Ok(new ChannelTestResponse(report.Ok, report.Message, report.Checks))
            : TypedResults.NotFound();

    private static async Task<Results<ContentHttpResult, NotFound, ProblemHttpResult>> PreviewSignatureAsync(
        string channelId, IChannelStore store, TenantContext tenant, CancellationToken cancellationToken)
    {
        var channel = await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return TypedResults.NotFound();
        }

        if (channel.Type is not (ChannelTypes.Email or ChannelTypes.MicrosoftEmail))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request", detail: "Only e-mail channels have a signature.");
        }

        // Stored already sanitized; sanitizing again is idempotent and guards rows written before a rule changed.
        var html = SignatureSanitizer.Sanitize(channel.GetString("signatureHtml") ?? "");
        return TypedResults.Content(html, "text/html; charset=utf-8");
    }

    private static async Task<Results<Created<ApiKeyCreatedResponse>, NotFound, ValidationProblem, ProblemHttpResult>> CreateApiKeyAsync(
        string channelId, CreateApiKeyRequest? request, IChannelStore store, ICredentialStore credentials, IAuditLog audit, TenantContext tenant, CancellationToken cancellationToken)
    {
        var channel = await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return TypedResults.NotFound();
        }

        if (channel.Type != ChannelTypes.Omni)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request", detail: "API keys are issued for omni channels only.");
        }

        var name = request?.Name?.Trim() is { Length: > 0 } n ? n : "default";
        if (name.Length > 200)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["name"] = ["At most 200 characters."] });
        }

        var issued = await credentials.CreateChannelKeyAsync(tenant.CompanyId, channelId, name, cancellationToken);
        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "api-key.created", $"channels/{channelId}/api-keys/{issued.Key.Id}", ["name"], cancellationToken);
        return TypedResults.Created($"/api/companies/{tenant.CompanyId}/channels/{channelId}/api-keys/{issued.Key.Id}",
            new ApiKeyCreatedResponse(issued.Key.Id, issued.Key.Name, issued.Key.Prefix, issued.Secret, issued.Key.CreatedAt));
    }

    private static async Task<Results<Ok<ListResponse<ApiKeyResponse>>, NotFound>> ListApiKeysAsync(
        string channelId, IChannelStore store, ICredentialStore credentials, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken) is null)
        {
            return TypedResults.NotFound();
        }

        var keys = await credentials.ListChannelKeysAsync(tenant.CompanyId, channelId, cancellationToken);
        return TypedResults.Ok(new ListResponse<ApiKeyResponse>(keys.Select(k => new ApiKeyResponse(k.Id, k.Name, k.Prefix, k.CreatedAt, k.LastUsedAt)).ToList()));
    }

    private static async Task<Results<NoContent, NotFound>> RevokeApiKeyAsync(
        string channelId, string keyId, ICredentialStore credentials, IAuditLog audit, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!Ids.LooksValid(channelId) || !Ids.LooksValid(keyId) || !await credentials.RevokeChannelKeyAsync(tenant.CompanyId, channelId, keyId, cancellationToken))
        {
            return TypedResults.NotFound();
        }

        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "api-key.revoked", $"channels/{channelId}/api-keys/{keyId}", null, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<WebhookSecretResponse>, NotFound, ProblemHttpResult>> RotateWebhookSecretAsync(
        string channelId, IChannelStore store, IAuditLog audit, TenantContext tenant, TimeProvider clock, CancellationToken cancellationToken)
    {
        var channel = await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return TypedResults.NotFound();
        }

        if (channel.Type != ChannelTypes.Omni)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request", detail: "Only omni channels sign webhooks.");
        }

        var secret = WebhookSecrets.New();
        var secrets = new Dictionary<string, string> { [WebhookSecrets.CurrentField] = secret };
        // A secret this app can no longer decrypt is dropped, not kept signing: rotating is how it is mended.
        DateTimeOffset? previousExpiresAt = null;
        if (WebhookSecrets.TryReveal(store, channel, WebhookSecrets.CurrentField, out var current) && current is not null)
        {
            secrets[WebhookSecrets.PreviousField] = current;
            previousExpiresAt = clock.GetUtcNow() + WebhookSecrets.PreviousSecretLifetime;
        }

        try
        {
            await store.UpdateAsync(channel with { PreviousWebhookSecretExpiresAt = previousExpiresAt }, secrets, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == StatusCodes.Status412PreconditionFailed)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: "The channel changed while rotating; retry.");
        }

        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "webhook-secret.rotated", $"channels/{channelId}", ["settings.webhookSecret"], cancellationToken);
        return TypedResults.Ok(new WebhookSecretResponse(secret));
    }

    private static ChannelCaller Caller(TenantContext tenant) => new(tenant.CompanyId, tenant.Actor, tenant.HasScope);

    private static ChannelDraft Draft(ChannelRequest request) => new(request.Type, request.Name, request.ServiceId, request.Settings);

    private static ProblemHttpResult Forbidden(ChannelWrite outcome) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: outcome.Detail);

    internal static ChannelResponse ToResponse(Channel channel, ChannelService channels) =>
        new(channel.Id, channel.CompanyId, channel.Type, channel.Name, channel.ServiceId, channels.Shown(channel), channel.CreatedAt, channel.UpdatedAt);
}
