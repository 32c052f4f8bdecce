using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Channels;
using Omni.Credentials;
using Omni.Email;
using Omni.Functions.Hosting;
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

    /// <summary>Only in the response that creates a mercadolivre channel: the notification key, shown once.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? NotificationKey { get; init; }

    /// <summary>With <see cref="NotificationKey"/>: the whole URL to paste into the Mercado Livre application's notifications.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? NotificationUrl { get; init; }

    /// <summary>Only in the response that creates a webchat channel: the public token its snippet names (also in its settings).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? WebsiteToken { get; init; }

    /// <summary>Only in the response that creates a webchat channel: the secret that signs userHash, shown once.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? IdentitySecret { get; init; }
}

public sealed record ChannelTestResponse(bool Ok, string Message, IReadOnlyList<ChannelCheck> Checks);

internal static class ChannelEndpoints
{
    public static IEndpointRouteBuilder MapChannelEndpoints(this IEndpointRouteBuilder routes)
    {
        var channels = routes.MapGroup("/api/companies/{companyId}/channels").WithTags("Channels").RequireCompany();
        channels.MapPost("/", CreateAsync).WithName("createChannel").RequireScope(Scopes.ChannelsWrite).WithSummary("Create a channel");
        channels.MapGet("/", ListAsync).WithName("listChannels").RequireScope(Scopes.ChannelsRead).WithSummary("List channels, optionally of one type");
        channels.MapGet("/{channelId}", GetAsync).WithName("getChannel").RequireScope(Scopes.ChannelsRead).WithSummary("Get a channel");
        channels.MapPut("/{channelId}", UpdateAsync).WithName("updateChannel").RequireScope(Scopes.ChannelsWrite).WithSummary("Replace a channel's name, service and settings; secrets left out are kept");
        channels.MapDelete("/{channelId}", DeleteAsync).WithName("deleteChannel").RequireScope(Scopes.ChannelsWrite).WithSummary("Delete a channel; its history stays readable");
        channels.MapPost("/{channelId}/test", TestAsync).WithName("testChannel").RequireScope(Scopes.ChannelsWrite).WithSummary("Testar Configurações: try the settings against the real service");
        channels.MapGet("/{channelId}/signature/preview", PreviewSignatureAsync).WithName("previewSignature").RequireScope(Scopes.ChannelsRead)
            .Produces<string>(StatusCodes.Status200OK, "text/html").WithSummary("The e-mail signature exactly as it is sent");
        return routes;
    }

    private static async Task<Results<Created<ChannelResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        ChannelRequest request, ChannelService channels, TenantContext tenant, HttpRequest http, CancellationToken cancellationToken)
    {
        var outcome = await channels.CreateAsync(Caller(tenant), Draft(request), cancellationToken);
        return outcome.Status switch
        {
            ChannelWriteStatus.Saved => TypedResults.Created($"/api/companies/{tenant.CompanyId}/channels/{outcome.Channel!.Id}",
                MercadoLivreProviderEndpoints.WithNotificationKey(
                    ToResponse(outcome.Channel, channels) with
                    {
                        WebhookSecret = outcome.ShownOnce.GetValueOrDefault(WebhookSecrets.CurrentField),
                        IdentitySecret = outcome.ShownOnce.GetValueOrDefault(Webchat.WebchatSettingsRules.IdentitySecretField),
                        WebsiteToken = outcome.Channel.Type == ChannelTypes.Webchat ? Webchat.WebsiteToken.For(outcome.Channel.Id) : null,
                    },
                    outcome.ShownOnce,
                    http)),
            ChannelWriteStatus.Forbidden => Forbidden(outcome),
            ChannelWriteStatus.OverQuota => QuotaProblems.Exceeded(outcome.Denial!),
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

    private static ChannelCaller Caller(TenantContext tenant) => new(tenant.CompanyId, tenant.Actor, tenant.HasScope);

    private static ChannelDraft Draft(ChannelRequest request) => new(request.Type, request.Name, request.ServiceId, request.Settings);

    private static ProblemHttpResult Forbidden(ChannelWrite outcome) =>
        TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: outcome.Detail);

    internal static ChannelResponse ToResponse(Channel channel, ChannelService channels) =>
        new(channel.Id, channel.CompanyId, channel.Type, channel.Name, channel.ServiceId, channels.Shown(channel), channel.CreatedAt, channel.UpdatedAt);
}
