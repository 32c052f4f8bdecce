using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace Omni.Functions.Hosting;

/// <summary>
/// Endpoint metadata for a credential that authorization does not check (an endpoint filter or the handler does):
/// the OpenAPI document names it as the route's security scheme and gives the route its 401.
/// </summary>
internal sealed record DescribedCredential(string Scheme);

/// <summary>
/// The credentials of the API as OpenAPI security schemes, and which of them a route takes, read from its
/// authorization policy (the requirements in <see cref="OmniAuthorizationHandler"/>), so a new route is described
/// by the same <c>RequireCompany()</c>/<c>RequireScope(…)</c>/<c>RequireChannelKey()</c> calls that protect it.
/// </summary>
internal static class OpenApiSecurity
{
    public const string Admin = "adminToken";
    public const string Management = "managementKey";
    public const string Channel = "channelKey";
    public const string Bot = "botKey";
    public const string ApiKeyHeader = "apiKeyHeader";
    public const string WebchatSession = "webchatSession";
    public const string MetaSignature = "metaSignature";
    public const string MercadoLivreKey = "mercadoLivreKey";

    /// <summary>The scheme the document has always had: any credential as a bearer token (kept for clients that read it).</summary>
    public const string AnyBearer = "bearer";

    public static IReadOnlyDictionary<string, OpenApiSecurityScheme> Schemes { get; } = new Dictionary<string, OpenApiSecurityScheme>
    {
        [Admin] = Bearer("The platform admin token (app setting Omni__AdminToken): every company, and the routes only the platform may use (companies, management keys, the number inventory, secrets re-wrap)."),
        [Management] = Bearer("A company's management key, omni_mk_… (POST /api/companies/{companyId}/management-keys, shown once). It acts in its own company only, with the scopes it was issued; the scopes an operation needs are listed beside this scheme. Another company's resource is 404, a missing scope 403.", "omni_mk_…"),
        [Channel] = Bearer("An omni channel's API key, omni_ck_… (POST …/channels/{channelId}/api-keys, shown once): receive_hook and /api/audit/* for that one channel.", "omni_ck_…"),
        [Bot] = Bearer("A bot's key, omni_bk_… (POST /api/companies/{companyId}/bots, shown once): /api/bots/* for the conversations that bot handles.", "omni_bk_…"),
        [ApiKeyHeader] = new()
        {
            Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-Api-Key",
            Description = "On receive_hook and /api/audit/*: the same credential as the operation's bearer schemes, in X-Api-Key, for systems that can only set a fixed header.",
        },
        [WebchatSession] = Bearer("A webchat visitor's session token, omni_wcs_… (POST /api/webchat/{websiteToken}/sessions). EventSource, which cannot set headers, sends it as ?access_token=. A session gone or unknown is 401: start a new one.", "omni_wcs_…"),
        [MetaSignature] = new()
        {
            Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-Hub-Signature-256",
            Description = "Meta signs each event: sha256=<hex HMAC-SHA256 of the raw body keyed with the channel's appSecret>. A missing or wrong signature is 401 (docs/meta.md).",
        },
        [MercadoLivreKey] = new()
        {
            Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Query, Name = "key",
            Description = "The mercadolivre channel's notificationKey, part of the notification URL its create response shows once (docs/mercadolivre.md).",
        },
        [AnyBearer] = Bearer("Any Omni credential as 'Authorization: Bearer <token>': the platform admin token, a management key (omni_mk_…), a channel API key (omni_ck_…) or a bot key (omni_bk_…). Each operation names the ones it takes."),
    };

    /// <summary>Marks the routes of this builder as taking <paramref name="scheme"/>, checked outside authorization.</summary>
    public static TBuilder DescribeCredential<TBuilder>(this TBuilder builder, string scheme) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new DescribedCredential(scheme));

    /// <summary>The route's alternatives (any one suffices), or null when it takes no credential at all.</summary>
    public static async Task<List<OpenApiSecurityRequirement>?> RequirementsAsync(IReadOnlyList<object> metadata, IAuthorizationPolicyProvider policies, OpenApiDocument? document)
    {
        if (metadata.OfType<DescribedCredential>().LastOrDefault() is { } described)
        {
            return [Requirement(document, described.Scheme, [])];
        }

        if (metadata.OfType<IAllowAnonymous>().Any())
        {
            return null;
        }

        var policy = await AuthorizationPolicy.CombineAsync(policies, metadata.OfType<IAuthorizeData>(), metadata.OfType<AuthorizationPolicy>());
        if (policy is null)
        {
            return null;
        }

        // Every requirement must pass, so the credentials that may call are the intersection of each one's.
        var allowed = new HashSet<string>([Admin, Management, Channel, Bot]);
        var scopes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var requirement in policy.Requirements)
        {
            var (kinds, scope) = Allows(requirement);
            allowed.IntersectWith(kinds);
            if (scope is not null)
            {
                scopes.Add(scope);
            }
        }

        var alternatives = new[] { Admin, Management, Channel, Bot }.Where(allowed.Contains)
            .Select(kind => Requirement(document, kind, kind == Management ? [.. scopes] : []))
            .ToList();
        if (metadata.OfType<ApiKeyHeaderAccepted>().Any())
        {
            alternatives.Add(Requirement(document, ApiKeyHeader, []));
        }

        return alternatives;
    }

    private static (string[] Kinds, string? Scope) Allows(IAuthorizationRequirement requirement) => requirement switch
    {
        AdminRequirement => ([Admin], null),
        CompanyScopeRequirement r => ([Admin, Management], r.Scope),
        ScopeRequirement r => ([Admin, Management], r.Scope),
        ChannelKeyRequirement { AlternativeScope: { } alternative } => ([Channel, Admin, Management], alternative),
        ChannelKeyRequirement => ([Channel], null),
        BotKeyRequirement => ([Bot], null),
        // Authentication itself (any valid credential).
        _ => ([Admin, Management, Channel, Bot], null),
    };

    private static OpenApiSecurityRequirement Requirement(OpenApiDocument? document, string scheme, List<string> scopes) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = scopes };

    private static OpenApiSecurityScheme Bearer(string description, string? format = null) =>
        new() { Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = format, Description = description };
}
