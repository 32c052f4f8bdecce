using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Omni.Storage;

namespace Omni.Functions.Hosting;

internal static class ProblemDetailsSetup
{
    public static IServiceCollection AddOmniProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            ctx.ProblemDetails.Type ??= $"https://www.rfc-editor.org/rfc/rfc9110#status.{ctx.ProblemDetails.Status}";
            // The contract promises a detail on every problem, including those the framework writes by status alone.
            ctx.ProblemDetails.Detail ??= DefaultDetail(ctx.ProblemDetails.Status);
            ctx.ProblemDetails.Extensions["traceId"] = ctx.HttpContext.TraceIdentifier;
        });
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        // Binding failures (bad JSON, wrong content type, oversize body) throw, so one handler turns them into problems.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }

    private static string DefaultDetail(int? status) => status switch
    {
        400 => "The request is not valid for this operation.",
        401 => "Send a valid credential as 'Authorization: Bearer <token>'.",
        403 => "The credential is valid but lacks the scope this operation needs.",
        404 => "No such resource.",
        405 => "This route does not accept that HTTP method.",
        409 => "The request conflicts with the resource's current state.",
        413 => "The request body is larger than this endpoint accepts.",
        415 => "Send the body as application/json.",
        _ => "See the status code.",
    };
}

/// <summary>
/// Maps what a client did wrong to a 4xx problem document: malformed JSON and wrong types (400), a body over the
/// limit (413), a wrong content type (415); writers that lose every race for the same rows are a 429 and a storage outage is a
/// 503, both with Retry-After, so integrators retry. Everything
/// else stays a 500 with no internals in it.
/// </summary>
internal sealed partial class BadRequestExceptionHandler(IProblemDetailsService problems, ILogger<BadRequestExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, detail) = exception switch
        {
            BadHttpRequestException { StatusCode: 413 } => (413, "The request body is larger than this endpoint accepts."),
            BadHttpRequestException { StatusCode: 415 } => (415, "Send the body as application/json."),
            BadHttpRequestException { InnerException: JsonException json } => (400, $"The body is not valid JSON for this operation: {Describe(json)}"),
            // The framework's own wording here speaks of parameters and services, not of what the client sent.
            BadHttpRequestException { StatusCode: 400 } when httpContext.Request.ContentLength is 0 => (400, "This operation needs a JSON body."),
            BadHttpRequestException bad => (bad.StatusCode, bad.Message),
            InvalidContinuationTokenException token => (400, token.Message),
            JsonException json => (400, $"The body is not valid JSON for this operation: {Describe(json)}"),
            // Every attempt lost the race for the same rows (many messages of one contact at once): nothing of this
            // request was stored, and a retry a moment later lands.
            StorageConflictException => (429, "Too many changes to the same conversation at once; nothing of this request was stored. Retry it after Retry-After seconds."),
            _ when StorageHealth.IsOutage(exception) => (503, "Storage is unavailable for a moment and nothing of this request was acknowledged; retry it after Retry-After seconds."),
            _ => (500, "An unexpected error occurred. It was logged; retry later or contact support with the traceId."),
        };

        if (status == 500)
        {
            LogUnhandled(exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.StatusCode = status;
        if (status == 429)
        {
            LogContention(httpContext.Request.Method, httpContext.Request.Path);
            httpContext.Response.Headers.RetryAfter = "1";
        }

        if (status == 503)
        {
            LogStorageOutage(httpContext.Request.Method, httpContext.Request.Path);
            httpContext.Response.Headers.RetryAfter = "5";
        }

        return await problems.TryWriteAsync(new()
        {
            HttpContext = httpContext,
            Exception = status == 500 ? null : exception,
            ProblemDetails = { Status = status, Detail = detail },
        });
    }

    // The path and line help the integrator; the exception's own message can quote the body, so it is not echoed.
    private static string Describe(JsonException json) =>
        json.Path is { Length: > 0 } path ? $"problem at {path} (line {json.LineNumber + 1})." : $"problem near line {json.LineNumber + 1}.";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage unavailable on {Method} {Path}: answered 503")]
    private partial void LogStorageOutage(string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Every attempt lost the race for the same rows on {Method} {Path}: answered 429")]
    private partial void LogContention(string method, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    private partial void LogUnhandled(Exception exception, string method, string path);
}
