using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Omni.Channels;
using Omni.Tenancy;

namespace Omni.Functions.Hosting;

internal static class Policies
{
    public const string Admin = "admin";
    public const string ChannelKey = "channel-key";
}

/// <summary>The caller acts in the company named by the route and, unless an admin, holds <see cref="Scope"/> (null: any key of it).</summary>
internal sealed record CompanyScopeRequirement(string? Scope) : IAuthorizationRequirement;

/// <summary>
/// The caller is a channel API key, or a management key with <see cref="AlternativeScope"/> (or the platform admin)
/// naming the channel in <c>?channelId=</c>.
/// </summary>
internal sealed record ChannelKeyRequirement(string? AlternativeScope) : IAuthorizationRequirement;

internal sealed record AdminRequirement : IAuthorizationRequirement;

/// <summary>The caller is a bot key; it acts in its bot's company, for its bot only.</summary>
internal sealed record BotKeyRequirement : IAuthorizationRequirement;

/// <summary>The caller is the platform admin or a management key holding <see cref="Scope"/>; set per route inside a company group.</summary>
internal sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

/// <summary>
/// Endpoint metadata: the route takes a key in <c>X-Api-Key</c> as well as <c>Authorization: Bearer</c>, because many
/// ERPs can only set a fixed header. Set on the integrator route groups, so authentication needs no list of paths.
/// </summary>
internal sealed class ApiKeyHeaderAccepted
{
    public static readonly ApiKeyHeaderAccepted Instance = new();
}

/// <summary>Marks a failure that must look like "not found", so a key never learns another company's ids exist.</summary>
internal sealed class NotYoursReason(IAuthorizationHandler handler) : AuthorizationFailureReason(handler, "The resource belongs to another company.");

/// <summary>A caller that may name a channel did not: a 400 saying so, not a 403 that reads as a missing scope.</summary>
internal sealed class ChannelIdRequiredReason(IAuthorizationHandler handler) : AuthorizationFailureReason(handler, "Required: the channel to read, as ?channelId=.");

internal sealed class OmniAuthorizationHandler(ICompanyStore companies, IChannelStore channels) : IAuthorizationHandler
{
    public async Task HandleAsync(AuthorizationHandlerContext context)
    {
        if (context.Resource is not HttpContext http || context.User.Identity?.IsAuthenticated != true)
        {
            return;
        }

        var tenant = http.RequestServices.GetRequiredService<TenantContext>();
        var user = context.User;
        var kind = user.FindFirstValue(OmniClaims.Kind);
        tenant.IsAdmin = kind == OmniClaims.AdminKind;
        tenant.Scopes = user.FindAll(OmniClaims.Scope).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        tenant.CredentialKind = kind switch
        {
            OmniClaims.ManagementKind => Credentials.CredentialKind.Management,
            OmniClaims.ChannelKind => Credentials.CredentialKind.Channel,
            OmniClaims.BotKind => Credentials.CredentialKind.Bot,
            _ => null,
        };
        tenant.Actor = tenant.IsAdmin ? "platform-admin" : $"{kind}-key:{user.FindFirstValue(OmniClaims.KeyId)} ({user.FindFirstValue(OmniClaims.KeyName)})";

        foreach (var requirement in context.PendingRequirements.ToList())
        {
            switch (requirement)
            {
                case AdminRequirement when tenant.IsAdmin:
                    context.Succeed(requirement);
                    break;

                case CompanyScopeRequirement r:
                    await HandleCompanyAsync(context, r, http, tenant, user);
                    break;

                case ScopeRequirement r when tenant.IsAdmin || (tenant.CredentialKind == Credentials.CredentialKind.Management && tenant.Scopes.Contains(r.Scope)):
                    context.Succeed(r);
                    break;

                case ChannelKeyRequirement r:
                    await HandleChannelAsync(context, r, http, tenant, user);
                    break;

                case BotKeyRequirement r when tenant.CredentialKind == Credentials.CredentialKind.Bot:
                    tenant.CompanyId = user.FindFirstValue(OmniClaims.Company)!;
                    tenant.BotId = user.FindFirstValue(OmniClaims.Bot);
                    context.Succeed(r);
                    break;
            }
        }
    }

    private async Task HandleCompanyAsync(AuthorizationHandlerContext context, CompanyScopeRequirement requirement, HttpContext http, TenantContext tenant, ClaimsPrincipal user)
    {
        var routeCompany = http.GetRouteValue("companyId") as string;
        if (routeCompany is null)
        {
            return;
        }

        if (tenant.IsAdmin)
        {
            // The admin may act in any company, but only in one that exists.
            if (await companies.GetAsync(routeCompany, http.RequestAborted) is null)
            {
                context.Fail(new NotYoursReason(this));
                return;
            }

            tenant.CompanyId = routeCompany;
            context.Succeed(requirement);
            return;
        }

        if (!string.Equals(user.FindFirstValue(OmniClaims.Company), routeCompany, StringComparison.Ordinal))
        {
            context.Fail(new NotYoursReason(this));
            return;
        }

        tenant.CompanyId = routeCompany;
        if (tenant.CredentialKind == Credentials.CredentialKind.Management && (requirement.Scope is null || tenant.Scopes.Contains(requirement.Scope)))
        {
            context.Succeed(requirement);
        }
    }

    private async Task HandleChannelAsync(AuthorizationHandlerContext context, ChannelKeyRequirement requirement, HttpContext http, TenantContext tenant, ClaimsPrincipal user)
    {
        if (tenant.CredentialKind == Credentials.CredentialKind.Channel)
        {
            tenant.CompanyId = user.FindFirstValue(OmniClaims.Company)!;
            tenant.ChannelId = user.FindFirstValue(OmniClaims.Channel);
            context.Succeed(requirement);
            return;
        }

        if (requirement.AlternativeScope is not { } scope
            || !(tenant.IsAdmin || (tenant.CredentialKind == Credentials.CredentialKind.Management && tenant.Scopes.Contains(scope))))
        {
            return;
        }

        if (http.Request.Query["channelId"].ToString() is not { Length: > 0 } channelId)
        {
            context.Fail(new ChannelIdRequiredReason(this));
            return;
        }

        if (tenant.IsAdmin)
        {
            // The admin belongs to no company: the channel says which one it acts in.
            if (await channels.FindCompanyAsync(channelId, http.RequestAborted) is not { } company)
            {
                context.Fail(new NotYoursReason(this));
                return;
            }

            tenant.CompanyId = company;
        }
        else
        {
            tenant.CompanyId = user.FindFirstValue(OmniClaims.Company)!;
        }

        tenant.ChannelId = channelId;
        context.Succeed(requirement);
    }
}

/// <summary>Turns a "not yours" failure into a 404 problem, the same answer a missing resource gets.</summary>
internal sealed class NotFoundForOtherTenantsResultHandler(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailureReasons.Any(r => r is NotYoursReason) == true)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await problems.WriteAsync(new()
            {
                HttpContext = context,
                ProblemDetails = { Status = StatusCodes.Status404NotFound, Title = "Not Found", Detail = "No such resource." },
            });
            return;
        }

        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault(r => r is ChannelIdRequiredReason) is { } required)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await problems.WriteAsync(new()
            {
                HttpContext = context,
                ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["channelId"] = [required.Message] })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "One or more validation errors occurred.",
                },
            });
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}

internal static class AuthorizationEndpointExtensions
{
    /// <summary>The caller must act in the route's company with this scope; another company's caller gets 404.</summary>
    public static TBuilder RequireCompanyScope<TBuilder>(this TBuilder builder, string? scope) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).AddRequirements(new CompanyScopeRequirement(scope)));

    /// <summary>On a company route group: the caller acts in the route's company (admin or any of its management keys).</summary>
    public static TBuilder RequireCompany<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireCompanyScope(null);

    /// <summary>On a route inside a <see cref="RequireCompany{TBuilder}"/> group: the management key must hold this scope.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).AddRequirements(new ScopeRequirement(scope)));

    /// <summary>The routes of this builder also take the key in <c>X-Api-Key</c>.</summary>
    public static TBuilder AcceptApiKeyHeader<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ApiKeyHeaderAccepted.Instance);

    public static TBuilder RequireAdmin<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(Policies.Admin);

    public static TBuilder RequireBotKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).AddRequirements(new BotKeyRequirement()));

    public static TBuilder RequireChannelKey<TBuilder>(this TBuilder builder, string? alternativeScope = null) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).AddRequirements(new ChannelKeyRequirement(alternativeScope)));
}
