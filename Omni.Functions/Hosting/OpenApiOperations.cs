using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Omni.Functions.Hosting;

/// <summary>
/// Completes every operation from what the route already says, so a route added tomorrow is described like the
/// rest without a line of its own here: the path parameters its pattern names (the company id is read from the
/// tenant context, not bound, so the framework leaves it out), an operationId, the credentials its authorization
/// policy takes, and the errors its shape can give, each as an RFC 9457 problem document.
/// </summary>
internal static partial class OpenApiOperations
{
    public const string ProblemSchema = "ProblemDetails";
    public const string ValidationProblemSchema = "HttpValidationProblemDetails";

    private static readonly Dictionary<string, (string Description, string Example)> KnownParameters = new(StringComparer.Ordinal)
    {
        ["companyId"] = ("The company's id (cmp_…), as POST /api/companies returned it.", "cmp_0196a3c1e5f07b2e8d4c9a1f3b5d7e90"),
        ["channelId"] = ("The channel's id (chn_…).", "chn_0196a3c2a7d17e0f9b3c5d7e9f1a3b5c"),
        ["serviceId"] = ("The service's id (svc_…).", "svc_0196a3c1f8e27c4a9d1b3f5a7c9e1b3d"),
        ["conversationId"] = ("The conversation's id (cnv_…).", "cnv_0799f2b3c4d5e6f7a8b9c0d1e2f3"),
        ["messageId"] = ("The message's id (msg_…).", "msg_0196a3c4b2e97f1a8c3d5e7f9a1b3c5d"),
        ["keyId"] = ("The key's id (mk_… or ck_…), as its create response and listing show it.", "ck_0196a3c3d4e57a9b8c1d3e5f7a9b1c3d"),
        ["deliveryId"] = ("The delivery's id (msg_…), the webhook-id header of its requests.", "msg_0799f2b3c4d5e6f7a8b9c0d1e2f3a4b5"),
        ["botId"] = ("The bot's id (bot_…).", "bot_0196a3c5e6f78a9b0c1d2e3f4a5b6c7d"),
        ["ivrId"] = ("The IVR's id (ivr_…).", "ivr_0196a3c6f7a89b0c1d2e3f4a5b6c7d8e"),
        ["audioId"] = ("The audio's id (aud_…).", "aud_0196a3c7a8b90c1d2e3f4a5b6c7d8e9f"),
        ["number"] = ("The number in E.164 (+ and digits; %2B in a URL).", "+5511300000000"),
        ["websiteToken"] = ("The webchat channel's public website token, as its create response and settings show it.", "wct_5kq1Yt2d8Jw3mXvR0pLs9A"),
        ["index"] = ("The attachment's position in its message, from 0.", "0"),
    };

    public static async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        operation.OperationId ??= FallbackOperationId(description, metadata);
        var pathParameters = DeclarePathParameters(operation, description.RelativePath);

        var policies = context.ApplicationServices.GetRequiredService<IAuthorizationPolicyProvider>();
        var security = await OpenApiSecurity.RequirementsAsync([.. metadata], policies, context.Document);
        // An empty requirement says "no credential" explicitly, so the document's default cannot be read into it.
        operation.Security = security ?? [new OpenApiSecurityRequirement()];

        var body = description.ParameterDescriptions.Any(p => p.Source == BindingSource.Body || p.Source == BindingSource.Form || p.Source == BindingSource.FormFile)
                   || metadata.OfType<IAcceptsMetadata>().Any();
        var input = body || description.ParameterDescriptions.Any(p => p.Source == BindingSource.Query || p.Source == BindingSource.Header);
        var errors = new SortedSet<int>();
        if (input)
        {
            errors.Add(StatusCodes.Status400BadRequest);
        }

        if (security is not null)
        {
            errors.Add(StatusCodes.Status401Unauthorized);
            if (!metadata.OfType<DescribedCredential>().Any())
            {
                // Authorization checks more than a valid credential everywhere: the kind of key, its scope.
                errors.Add(StatusCodes.Status403Forbidden);
            }
        }

        if (pathParameters > 0)
        {
            // An unknown id and another company's id are the same 404.
            errors.Add(StatusCodes.Status404NotFound);
        }

        if (body)
        {
            errors.Add(StatusCodes.Status413PayloadTooLarge);
            errors.Add(StatusCodes.Status415UnsupportedMediaType);
        }

        if (!HttpMethods.IsGet(description.HttpMethod ?? "GET"))
        {
            // A write that lost every race for the same rows (BadRequestExceptionHandler).
            errors.Add(StatusCodes.Status429TooManyRequests);
        }

        // A storage outage, on every route that reads or writes.
        errors.Add(StatusCodes.Status503ServiceUnavailable);
        DescribeErrors(operation, errors, context.Document);
    }

    /// <summary>Every 4xx/5xx of the operation, given or derived, as a problem document with a description and an example.</summary>
    private static void DescribeErrors(OpenApiOperation operation, SortedSet<int> derived, OpenApiDocument? document)
    {
        var responses = operation.Responses ??= new OpenApiResponses();
        foreach (var status in derived)
        {
            responses.TryAdd(status.ToString(System.Globalization.CultureInfo.InvariantCulture), new OpenApiResponse());
        }

        // In status order, as a reader scans them.
        var ordered = responses.OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
        responses.Clear();
        foreach (var (key, value) in ordered)
        {
            responses[key] = value;
        }

        foreach (var (key, value) in responses.ToList())
        {
            if (!int.TryParse(key, out var status) || status < 400 || value is not OpenApiResponse response)
            {
                continue;
            }

            response.Description = ErrorDescription(status, response.Description);
            response.Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new()
                {
                    Schema = new OpenApiSchemaReference(status == 400 ? ValidationProblemSchema : ProblemSchema, document),
                    // One example per status in components (OpenApiSetup), not a copy in every operation.
                    Examples = new Dictionary<string, IOpenApiExample> { [ExampleId(status)] = new OpenApiExampleReference(ExampleId(status), document) },
                },
            };
            if (status is 429 or 503)
            {
                response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                response.Headers["Retry-After"] = new OpenApiHeader
                {
                    Description = "Seconds to wait before retrying the same request.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                };
            }
        }
    }

    private static string ErrorDescription(int status, string? given) => status switch
    {
        400 => "The request is not valid: malformed JSON, a wrong type, or fields named in `errors`.",
        401 => "No credential, or one that is not valid or was revoked.",
        403 => "The credential is valid but may not do this (another kind of credential, or a missing scope).",
        404 => "No such resource, or it belongs to another company (never told apart).",
        409 => "The request conflicts with the resource's current state (an attempt in flight, a quota, a change meanwhile).",
        413 => "The body, or an attachment in it, is larger than this operation takes.",
        415 => "The body must be sent with the content type this operation takes.",
        422 => "The request is well formed but cannot be done as asked (a reused externalId with another body, a provider's window closed).",
        429 => "Too many requests, or too many changes to the same rows at once; nothing was stored. Retry after Retry-After seconds.",
        502 => "The provider behind the channel failed to answer.",
        503 => "Storage (or a provider this needs) is unavailable for a moment; nothing was acknowledged. Retry after Retry-After seconds.",
        _ => given is { Length: > 0 } ? given : "See the problem document.",
    };

    public static string ExampleId(int status) => $"problem{status}";

    public static OpenApiExample ProblemExample(int status) => new() { Summary = $"A {status} problem", Value = ProblemValue(status) };

    private static JsonObject ProblemValue(int status)
    {
        var (title, detail) = status switch
        {
            400 => ("One or more validation errors occurred.", (string?)null),
            401 => ("Unauthorized", "Send a valid credential as 'Authorization: Bearer <token>'."),
            403 => ("Forbidden", "The credential is valid but lacks the scope this operation needs."),
            404 => ("Not Found", "No such resource."),
            409 => ("Conflict", "The request conflicts with the resource's current state."),
            413 => ("Payload Too Large", "The request body is larger than this endpoint accepts."),
            415 => ("Unsupported Media Type", "Send the body as application/json."),
            422 => ("Unprocessable Entity", "This externalId was already used with a different body."),
            429 => ("Too Many Requests", "Too many changes to the same conversation at once; nothing of this request was stored. Retry it after Retry-After seconds."),
            503 => ("Service Unavailable", "Storage is unavailable for a moment and nothing of this request was acknowledged; retry it after Retry-After seconds."),
            _ => ("Error", "See the status code."),
        };
        var problem = new JsonObject
        {
            ["type"] = $"https://www.rfc-editor.org/rfc/rfc9110#status.{status}",
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail ?? "The request is not valid for this operation.",
            ["traceId"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        };
        if (status == 400)
        {
            problem["errors"] = new JsonObject { ["name"] = new JsonArray("Required.") };
        }

        return problem;
    }

    /// <summary>Declares each <c>{name}</c> of the pattern the operation does not (the ones read from the tenant context); returns how many it has.</summary>
    private static int DeclarePathParameters(OpenApiOperation operation, string? relativePath)
    {
        var count = 0;
        foreach (Match match in RouteParameter().Matches(relativePath ?? ""))
        {
            count++;
            var name = match.Groups["name"].Value;
            var parameter = operation.Parameters?.OfType<OpenApiParameter>().FirstOrDefault(p => p.In == ParameterLocation.Path && p.Name == name);
            if (parameter is null)
            {
                parameter = new OpenApiParameter
                {
                    Name = name,
                    In = ParameterLocation.Path,
                    Required = true,
                    Schema = match.Groups["constraint"].Value == "int"
                        ? new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" }
                        : new OpenApiSchema { Type = JsonSchemaType.String },
                };
                (operation.Parameters ??= []).Add(parameter);
            }

            if (KnownParameters.TryGetValue(name, out var known))
            {
                parameter.Description ??= known.Description;
                parameter.Example ??= parameter.Schema?.Type == JsonSchemaType.Integer ? JsonValue.Create(int.Parse(known.Example, System.Globalization.CultureInfo.InvariantCulture)) : JsonValue.Create(known.Example);
            }
        }

        return count;
    }

    /// <summary>For a route without <c>.WithName()</c>: its handler's name (<c>CloseAsync</c> → <c>close</c>), else the method and path.</summary>
    private static string FallbackOperationId(ApiDescription description, IList<object> metadata)
    {
        if (metadata.OfType<MethodInfo>().FirstOrDefault() is { } method && !method.Name.Contains('<', StringComparison.Ordinal))
        {
            var name = method.Name.EndsWith("Async", StringComparison.Ordinal) ? method.Name[..^"Async".Length] : method.Name;
            return char.ToLowerInvariant(name[0]) + name[1..];
        }

        var words = (description.RelativePath ?? "").Split('/', '_', '-', '.')
            .Where(w => w.Length > 0 && w != "api" && !w.StartsWith('{'))
            .Select(w => char.ToUpperInvariant(w[0]) + w[1..]);
        return (description.HttpMethod ?? "get").ToLowerInvariant() + string.Concat(words);
    }

    [GeneratedRegex(@"\{\*{0,2}(?<name>[A-Za-z0-9_]+)(?::(?<constraint>[a-z]+)[^}]*)?\??\}")]
    private static partial Regex RouteParameter();
}
