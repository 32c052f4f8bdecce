using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace Omni.Functions.Hosting;

internal static class OversizeBodies
{
    /// <summary>After authorization, so a caller without a credential still hears 401; before anything reads a body.</summary>
    public static IApplicationBuilder UseOversizeBodies(this IApplicationBuilder app) => app.UseMiddleware<OversizeBodyMiddleware>();
}

/// <summary>
/// Applies the route's body limit (the endpoint middleware would, but only after earlier middleware read the body)
/// and refuses a declared length over it with a 413 problem before anything is buffered. A body at most
/// <see cref="DrainFactor"/> times the limit is read and thrown away first: closing a connection with unread bytes
/// makes the TCP stack reset it, and a reset that overtakes the 413 leaves the client with "connection reset" instead
/// of the problem document (seen under load). Larger bodies are not worth the bandwidth: the connection closes after
/// the 413, and a client may see the reset.
/// </summary>
internal sealed class OversizeBodyMiddleware(RequestDelegate next, IProblemDetailsService problems)
{
    internal const int DrainFactor = 4;

    public async Task InvokeAsync(HttpContext context)
    {
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is not { IsReadOnly: false })
        {
            await next(context);
            return;
        }

        if (context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>() is { } metadata)
        {
            feature.MaxRequestBodySize = metadata.MaxRequestBodySize;
        }

        if (feature.MaxRequestBodySize is not { } limit || context.Request.ContentLength is not { } length || length <= limit)
        {
            await next(context);
            return;
        }

        if (length <= DrainFactor * limit)
        {
            feature.MaxRequestBodySize = null;
            try
            {
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch (IOException)
            {
                // The client stopped sending: the answer below may still reach it.
            }
        }

        context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        await problems.WriteAsync(new()
        {
            HttpContext = context,
            ProblemDetails = new() { Status = StatusCodes.Status413PayloadTooLarge, Detail = $"The request body is larger than this endpoint accepts ({limit} bytes)." },
        });
    }
}
