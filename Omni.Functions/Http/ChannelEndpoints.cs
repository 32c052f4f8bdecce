using System.Text.Json.Nodes;
using Azure;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Audit;
using Omni.Channels;
using Omni.Credentials;
using Omni.Email;
using Omni.Functions.Hosting;
using Omni.Storage;
using Omni.Tenancy;
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
    public const string ConfigurationOk = "Configurações OK";

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
        return routes;
    }

    private static async Task<Results<Created<ChannelResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        ChannelRequest request, IChannelStore store, ICompanyStore companies, ChannelSettingsValidator validator, IAuditLog audit,
        TenantContext tenant, TimeProvider clock, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var type = request.Type?.Trim();
        if (type is null || !ChannelTypes.All.Contains(type))
        {
            errors.Add("type", $"Must be one of: {string.Join(", ", ChannelTypes.All)}.");
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        if (NeedsGeneralSettings(type, tenant) is { } forbidden)
        {
            return forbidden;
        }

        var id = Ids.New("chn");
        var now = clock.GetUtcNow();
        var draft = new Channel(id, tenant.CompanyId, type, "", "", [], new Dictionary<string, string>(), now, now);
        var (name, serviceId, settings) = await ValidateAsync(request, draft, null, companies, validator, tenant, errors, cancellationToken);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var secrets = new Dictionary<string, string>(settings.Secrets);
        string? webhookSecret = null;
        if (type == ChannelTypes.Omni)
        {
            webhookSecret = WebhookSecrets.New();
            secrets[WebhookSecrets.CurrentField] = webhookSecret;
        }

        var channel = await store.CreateAsync(draft with { Name = name!, ServiceId = serviceId!, Settings = settings.Public }, secrets, cancellationToken);
        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "channel.created", $"channels/{channel.Id}", ["type", "name", "serviceId", .. FieldNames(settings)], cancellationToken);
        return TypedResults.Created($"/api/companies/{tenant.CompanyId}/channels/{channel.Id}", ToResponse(channel) with { WebhookSecret = webhookSecret });
    }

    private static async Task<Results<Ok<ListResponse<ChannelResponse>>, ValidationProblem>> ListAsync(
        string? type, IChannelStore store, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (type is not null && !ChannelTypes.All.Contains(type))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["type"] = [$"Must be one of: {string.Join(", ", ChannelTypes.All)}."] });
        }

        var channels = await store.ListAsync(tenant.CompanyId, type, cancellationToken);
        return TypedResults.Ok(new ListResponse<ChannelResponse>(channels.Select(ToResponse).ToList()));
    }

    private static async Task<Results<Ok<ChannelResponse>, NotFound>> GetAsync(string channelId, IChannelStore store, TenantContext tenant, CancellationToken cancellationToken) =>
        await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken) is { } channel ? TypedResults.Ok(ToResponse(channel)) : TypedResults.NotFound();

    private static async Task<Results<Ok<ChannelResponse>, NotFound, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string channelId, ChannelRequest request, IChannelStore store, ICompanyStore companies, ChannelSettingsValidator validator, IAuditLog audit,
        TenantContext tenant, TimeProvider clock, CancellationToken cancellationToken)
    {
        var existing = await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken);
        if (existing is null)
        {
            return TypedResults.NotFound();
        }

        if (NeedsGeneralSettings(existing.Type, tenant) is { } forbidden)
        {
            return forbidden;
        }

        var errors = new ValidationErrors();
        if (request.Type is { } type && type != existing.Type)
        {
            errors.Add("type", "A channel's type cannot change; create a new channel instead.");
        }

        var (name, serviceId, settings) = await ValidateAsync(request, existing, existing, companies, validator, tenant, errors, cancellationToken);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var changed = new List<string>();
        if (name != existing.Name) changed.Add("name");
        if (serviceId != existing.ServiceId) changed.Add("serviceId");
        changed.AddRange(settings.Public.Where(p => !JsonNode.DeepEquals(p.Value, existing.Settings[p.Key])).Select(p => $"settings.{p.Key}"));
        changed.AddRange(settings.Secrets.Keys.Select(k => $"settings.{k}"));

        try
        {
            var updated = await store.UpdateAsync(existing with
            {
                Name = name!,
                ServiceId = serviceId!,
                Settings = settings.Public,
                UpdatedAt = clock.GetUtcNow(),
                // Saving again is how an integrator says its endpoint is back after a 410 Gone.
                WebhookDisabledAt = null,
            }, settings.Secrets, cancellationToken);
            await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "channel.updated", $"channels/{channelId}", changed, cancellationToken);
            return TypedResults.Ok(ToResponse(updated));
        }
        catch (RequestFailedException ex) when (ex.Status == StatusCodes.Status412PreconditionFailed)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: "The channel was changed by someone else while this update was made. Read it again and retry.");
        }
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(
        string channelId, IChannelStore store, ICredentialStore credentials, IAuditLog audit, TenantContext tenant, TimeProvider clock, CancellationToken cancellationToken)
    {
        var existing = await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken);
        if (existing is null)
        {
            return TypedResults.NotFound();
        }

        // Keys first: once the delete answers, the channel takes no more traffic.
        await credentials.RevokeAllChannelKeysAsync(tenant.CompanyId, channelId, cancellationToken);
        await store.UpdateAsync(existing with { DeletedAt = clock.GetUtcNow() }, new Dictionary<string, string>(), cancellationToken);
        await audit.WriteAsync(tenant.CompanyId, tenant.Actor, "channel.deleted", $"channels/{channelId}", null, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<ChannelTestResponse>, NotFound>> TestAsync(
        string channelId, IChannelStore store, IEnumerable<IChannelTester> testers, TenantContext tenant, CancellationToken cancellationToken)
    {
        var channel = await store.GetAsync(tenant.CompanyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return TypedResults.NotFound();
        }

        var tester = testers.FirstOrDefault(t => t.ChannelType == channel.Type);
        if (tester is null)
        {
            return TypedResults.Ok(new ChannelTestResponse(false, $"Channels of type '{channel.Type}' have no settings test yet.", []));
        }

        IReadOnlyList<ChannelCheck> checks;
        try
        {
            checks = await tester.TestAsync(channel, cancellationToken);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // Stored under another Omni__SecretsKey (or tampered with): nothing can be tried until it is saved again.
            checks = [new ChannelCheck("secrets", false, 0, "A stored secret of this channel cannot be decrypted; save the channel's secret fields again.")];
        }

        var ok = checks.Count > 0 && checks.All(c => c.Ok);
        var message = ok ? ConfigurationOk : string.Join(" ", checks.Where(c => !c.Ok).Select(c => $"{c.Name}: {c.Error}"));
        return TypedResults.Ok(new ChannelTestResponse(ok, message, checks));
    }

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

    private static ProblemHttpResult? NeedsGeneralSettings(string type, TenantContext tenant) =>
        type == ChannelTypes.WhatsApp && !tenant.HasScope(Scopes.SettingsGeneral)
            ? TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: "WhatsApp channels are created and edited with the settings:general scope (Configurações Gerais).")
            : null;

    private static async Task<(string? Name, string? ServiceId, ValidatedSettings Settings)> ValidateAsync(
        ChannelRequest request, Channel draft, Channel? existing, ICompanyStore companies, ChannelSettingsValidator validator,
        TenantContext tenant, ValidationErrors errors, CancellationToken cancellationToken)
    {
        var name = errors.Required("name", request.Name);
        var serviceId = errors.Required("serviceId", request.ServiceId, maxLength: 64);
        if (serviceId is not null && await companies.GetServiceAsync(tenant.CompanyId, serviceId, cancellationToken) is null)
        {
            errors.Add("serviceId", "No such service in this company.");
        }

        var settings = validator.Validate(draft.Type, request.Settings, existing, errors);
        if (settings.Public["signatureHtml"] is JsonValue signature)
        {
            settings.Public["signatureHtml"] = SignatureSanitizer.Sanitize(signature.GetValue<string>());
        }

        return (name, serviceId, settings);
    }

    private static IEnumerable<string> FieldNames(ValidatedSettings settings) =>
        settings.Public.Select(p => $"settings.{p.Key}").Concat(settings.Secrets.Keys.Select(k => $"settings.{k}"));

        internal static ChannelResponse ToResponse(Channel channel)
    {
        var settings = channel.Settings.DeepClone().AsObject();
        foreach (var field in ChannelSettingsValidator.SecretFieldsOf(channel.Type, channel.Settings))
        {
            settings[field + "Set"] = channel.ProtectedSecrets.ContainsKey(field);
        }

        if (channel.Type == ChannelTypes.Omni)
        {
            settings["webhookSecretSet"] = channel.ProtectedSecrets.ContainsKey(WebhookSecrets.CurrentField);
            settings["webhookDisabled"] = channel.WebhookDisabledAt is not null;
        }

        return new ChannelResponse(channel.Id, channel.CompanyId, channel.Type, channel.Name, channel.ServiceId, settings, channel.CreatedAt, channel.UpdatedAt);
    }
}
