using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Omni.Functions.Hosting;

internal static class StrictJsonBodies
{
    /// <summary>
    /// After authorization, so a caller without a credential still hears 401 whatever it sent; before the endpoint,
    /// so no route binds a body it cannot read back.
    /// </summary>
    public static IApplicationBuilder UseStrictJsonBodies(this IApplicationBuilder app) => app.UseMiddleware<StrictJsonBodyMiddleware>();
}

/// <summary>
/// Checks the JSON body of every route that binds one (<see cref="StrictJsonDocument"/>) and answers a 400 problem
/// naming the field when it is unreadable, so that no endpoint meets such a body and throws. The body is read once
/// into memory (the route's limit, applied by <see cref="OversizeBodyMiddleware"/>, still holds) and handed on to the binder unchanged.
/// </summary>
internal sealed class StrictJsonBodyMiddleware(RequestDelegate next, IProblemDetailsService problems, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json)
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly JsonReaderOptions _readerOptions = new()
    {
        // The binder's own limits, so this reader and it agree on what is JSON at all.
        MaxDepth = json.Value.SerializerOptions.MaxDepth is 0 ? 64 : json.Value.SerializerOptions.MaxDepth,
        CommentHandling = json.Value.SerializerOptions.ReadCommentHandling,
        AllowTrailingCommas = json.Value.SerializerOptions.AllowTrailingCommas,
    };

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!BindsJsonBody(context) || !request.HasJsonContentType() || request.ContentLength == 0)
        {
            await next(context);
            return;
        }

        if (!TryGetEncoding(request, out var encoding))
        {
            await WriteAsync(context, StatusCodes.Status415UnsupportedMediaType, "Send the body as UTF-8 JSON: 'Content-Type: application/json; charset=utf-8'.", null);
            return;
        }

        var body = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(body, context.RequestAborted);
        }
        catch (IOException e) when (e is not BadHttpRequestException)
        {
            // The client went away mid-body, as the binder sees it too: no one to answer, no server error to log.
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var problem = Check(body.GetBuffer().AsSpan(0, (int)body.Length), encoding);
        if (problem is not null)
        {
            // The whole body is not a field: then there is only the detail.
            await WriteAsync(context, StatusCodes.Status400BadRequest,
                problem.Field == "$" ? $"The body is not valid JSON for this operation: {problem.Message}" : $"The body is not valid JSON for this operation: {problem.Field}: {problem.Message}",
                problem.Field == "$" ? null : new Dictionary<string, string[]> { [problem.Field] = [problem.Message] });
            return;
        }

        body.Position = 0;
        request.Body = body;
        await next(context);
    }

    private JsonBodyProblem? Check(ReadOnlySpan<byte> body, Encoding? encoding)
    {
        if (encoding is not null)
        {
            // The binder transcodes other charsets to UTF-8, replacing what does not decode; here it must decode.
            try
            {
                return Check(new UTF8Encoding(false, true).GetBytes(encoding.GetString(body)), null);
            }
            catch (DecoderFallbackException)
            {
                return new("$", $"The body is not valid {encoding.WebName}.");
            }
            catch (EncoderFallbackException)
            {
                return new("$", "The body holds a lone surrogate.");
            }
        }

        // The serializer skips a leading byte-order mark; a bare reader would not.
        return StrictJsonDocument.FindProblem(body.StartsWith(Utf8Bom) ? body[Utf8Bom.Length..] : body, _readerOptions);
    }

    private static bool BindsJsonBody(HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is { RequestType: not null } accepts
        && accepts.ContentTypes.Any(t => t.Contains("json", StringComparison.OrdinalIgnoreCase));

    /// <summary>UTF-8 unless the content type names another charset; false for a charset .NET does not know.</summary>
    private static bool TryGetEncoding(HttpRequest request, out Encoding? encoding)
    {
        encoding = null;
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var media) || media.Charset.Value is not { Length: > 0 } quoted)
        {
            return true;
        }

        // As the binder reads it: one pair of quotes removed; an empty name is as unknown as a misspelt one.
        var charset = quoted is ['"', .., '"'] ? quoted[1..^1] : quoted;
        if (charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        try
        {
            encoding = Encoding.GetEncoding(charset, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            // NotSupportedException: UTF-7, which .NET refuses to decode at all.
            return false;
        }
    }

    private Task WriteAsync(HttpContext context, int status, string detail, Dictionary<string, string[]>? errors)
    {
        context.Response.StatusCode = status;
        return problems.WriteAsync(new()
        {
            HttpContext = context,
            ProblemDetails = errors is null ? new() { Status = status, Detail = detail } : new HttpValidationProblemDetails(errors) { Status = status, Detail = detail },
        }).AsTask();
    }
}
