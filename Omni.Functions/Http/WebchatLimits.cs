using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Omni.Security;
using Omni.Webchat;

namespace Omni.Functions.Http;

/// <summary>
/// The visitor API is public, so it is rate-limited twice: per client address (sessions are cheap to make) and per
/// session. Both are fixed one-minute windows in this process; a refused request is a 429 problem with Retry-After.
/// Other routes are not limited here.
/// </summary>
internal static class WebchatLimits
{
    public static IServiceCollection AddWebchatLimits(this IServiceCollection services)
    {
        services.AddScoped<WebchatAccess>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<WebchatOptions>>((o, webchat) =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(http => IsWebchat(http)
                    ? Window("ip:" + ClientAddress(http), webchat.Value.IpPermitsPerMinute)
                    : RateLimitPartition.GetNoLimiter("")),
                PartitionedRateLimiter.Create<HttpContext, string>(http => IsWebchat(http) && WebchatAccess.SessionToken(http.Request) is { Length: > 0 } token
                    ? Window("session:" + TokenHash.Of(token), webchat.Value.SessionPermitsPerMinute)
                    : RateLimitPartition.GetNoLimiter("")));
            o.OnRejected = async (context, cancellationToken) =>
            {
                var http = context.HttpContext;
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 60;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (http.Request.Headers.Origin.FirstOrDefault() is { } origin)
                {
                    // Let the page read the 429 (its Retry-After) rather than see a network error.
                    http.Response.Headers.AccessControlAllowOrigin = origin;
                    http.Response.Headers.AccessControlExposeHeaders = "Retry-After";
                }

                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new()
                {
                    HttpContext = http,
                    ProblemDetails = { Status = 429, Title = "Too many requests", Detail = $"This chat is sending too fast; retry after {retryAfter} seconds." },
                });
            };
        });
        return services;
    }

    private static bool IsWebchat(HttpContext http) =>
        http.Request.Path.StartsWithSegments("/api/webchat", StringComparison.OrdinalIgnoreCase) && !HttpMethods.IsOptions(http.Request.Method);

    private static RateLimitPartition<string> Window(string key, int permits) =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });

    /// <summary>
    /// The visitor's address. Under the Functions host every request comes from the host on loopback, which puts
    /// the client's address first in X-Forwarded-For; a request from anywhere else is taken at its own address.
    /// </summary>
    private static string ClientAddress(HttpContext http)
    {
        var peer = http.Connection.RemoteIpAddress;
        if (peer is not null && IPAddress.IsLoopback(peer)
            && http.Request.Headers["X-Forwarded-For"].FirstOrDefault()?.Split(',')[0].Trim() is { Length: > 0 } forwarded)
        {
            return forwarded;
        }

        return peer?.ToString() ?? "unknown";
    }
}
