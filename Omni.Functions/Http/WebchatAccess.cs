using Microsoft.Net.Http.Headers;
using Omni.Webchat;

namespace Omni.Functions.Http;

/// <summary>
/// Which site a visitor request is for, filled once per request by the group's filter, and the page's origin. CORS
/// is answered here and not by the framework's middleware because the allowed origins are each channel's own.
/// </summary>
internal sealed class WebchatAccess
{
    private WebchatVisit? _visit;

    public WebchatVisit Visit => _visit ?? throw new InvalidOperationException("No webchat site was resolved for this request.");

    public string? Origin { get; private set; }

    /// <summary>The routes under <c>/{websiteToken}</c>: the token must name a live webchat channel.</summary>
    public static async ValueTask<object?> SiteAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var visitors = http.RequestServices.GetRequiredService<WebchatVisitors>();
        var visit = await visitors.FindSiteAsync(http.GetRouteValue("websiteToken") as string, http.RequestAborted);
        return visit is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No webchat has this website token.")
            : await AdmitAsync(context, next, visit);
    }

    /// <summary>The session routes: the token (Bearer, or <c>?access_token=</c> for EventSource) must name a session of a live channel.</summary>
    public static async ValueTask<object?> SessionAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var visitors = http.RequestServices.GetRequiredService<WebchatVisitors>();
        if (await visitors.FindSessionAsync(SessionToken(http.Request), http.RequestAborted) is { } visit)
        {
            return await AdmitAsync(context, next, visit);
        }

        // No site is known to check the origin against; the page may still read that its session is gone and start another.
        AllowOrigin(http);
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "Send the session token from POST /api/webchat/{websiteToken}/sessions as 'Authorization: Bearer <token>'; start a new session if it is gone.");
    }

    /// <summary>
    /// A browser's preflight carries no credential, so it cannot name a site: it is answered for the origin asking,
    /// and the request that follows is checked against the site's allowed origins.
    /// </summary>
    public static IResult Preflight(HttpContext http)
    {
        AllowOrigin(http);
        http.Response.Headers.AccessControlAllowMethods = "GET, POST, OPTIONS";
        http.Response.Headers.AccessControlAllowHeaders = "Authorization, Content-Type, Last-Event-ID";
        http.Response.Headers.AccessControlMaxAge = "600";
        return TypedResults.NoContent();
    }

    /// <summary>The session token of a visitor request, from either place it may travel; also what the per-session rate limit counts by.</summary>
    public static string? SessionToken(HttpRequest request) =>
        request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? auth["Bearer ".Length..].Trim()
            : request.Query["access_token"].FirstOrDefault();

    private static async ValueTask<object?> AdmitAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, WebchatVisit visit)
    {
        var http = context.HttpContext;
        var origin = http.Request.Headers.Origin.FirstOrDefault();
        if (origin is not null && !WebchatOrigins.Allows(visit.Channel, origin))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Origin not allowed",
                detail: "This page's origin is not one of the webchat channel's allowedOrigins.");
        }

        AllowOrigin(http);
        var access = http.RequestServices.GetRequiredService<WebchatAccess>();
        access._visit = visit;
        access.Origin = origin;
        return await next(context);
    }

    private static void AllowOrigin(HttpContext http)
    {
        if (http.Request.Headers.Origin.FirstOrDefault() is { } origin)
        {
            http.Response.Headers.AccessControlAllowOrigin = origin;
            http.Response.Headers.Append(HeaderNames.Vary, "Origin");
        }
    }
}
