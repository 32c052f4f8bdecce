using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Omni.Functions.Hosting;

/// <summary>
/// The OpenAPI 3.1 document at /api/openapi/v1.json: what the framework reads off the routes, completed by
/// <see cref="OpenApiOperations"/> per operation and here for the whole (title, credentials, tags, problem schemas).
/// Checked by Redocly's linter and by a client Kiota generates from it (Omni.Tests/Operations).
/// </summary>
internal static class OpenApiSetup
{
    public const string Title = "Omni Channels API";

    public const string Description =
        "The channels backend of the Omni contact-center platform: companies and services, channels (omni, e-mail, " +
        "Microsoft 365, WhatsApp, Instagram, webchat, Mercado Livre), receive_hook, conversations, signed webhooks " +
        "(Standard Webhooks), bots, voice numbers and IVRs, and their audit.\n\n" +
        "**Credentials.** Every credential travels as `Authorization: Bearer <token>` (receive_hook and /api/audit/* " +
        "also take `X-Api-Key`). The *platform admin token* may do everything; a *management key* (`omni_mk_…`) acts " +
        "in its own company with its scopes (each operation lists the scopes it needs beside `managementKey`); a " +
        "*channel API key* (`omni_ck_…`) is an integrator's, for receive_hook and the audit of its channel; a *bot key* " +
        "(`omni_bk_…`) is for /api/bots/*; a *webchat session token* (`omni_wcs_…`) is a site visitor's. A missing or " +
        "wrong credential is 401, a missing scope 403, another company's resource 404.\n\n" +
        "**Errors** are RFC 9457 problem documents (`application/problem+json`) with `type`, `title`, `status`, " +
        "`detail` and a `traceId`; validation problems name each bad field in `errors`. A 429 or 503 carries " +
        "`Retry-After`: nothing of that request was stored, so send it again.\n\n" +
        "**A first tour**: create a company (admin), a management key for it, a service and an omni channel, a channel " +
        "API key, then post a customer's message to receive_hook and answer it as an agent; the answer reaches the " +
        "channel's webhook signed.";

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Operations"] = "Health of the app and its storage, for probes and operators.",
        ["Administration"] = "Platform-wide operations for the platform admin token.",
        ["Companies"] = "Companies (tenants) and their management keys. Creating a company and issuing its keys is for the platform admin.",
        ["Services"] = "Services: the attendance queues a company's channels and calls lead to.",
        ["Channels"] = "A company's channels of every type; settings by type, write-only secrets, the settings test (\"Testar Configurações\").",
        ["API keys"] = "An omni channel's API keys and its webhook signing secret (keys:write).",
        ["Receive hook"] = "An integrator posts its customers' messages here with its channel API key; idempotent on externalId.",
        ["Conversations"] = "Conversations and their messages in both directions; agents' replies and closing.",
        ["Templates"] = "WhatsApp message templates: listing the approved ones and sending one to open a conversation.",
        ["Audit"] = "Webhook deliveries with each attempt, messages of a channel, and configuration changes.",
        ["E-mail"] = "E-mail channels' quarantine: mail that could not be ingested.",
        ["Provider webhooks"] = "Where Meta and Mercado Livre send their events; verified by their own signature or key, not an Omni credential.",
        ["Mercado Livre"] = "The seller's consent for a mercadolivre channel.",
        ["Bots"] = "Bots (URA, chatbots) a company registers: their webhook and their key.",
        ["Bot API"] = "What a bot does with its key: reply to its conversations and hand them to agents.",
        ["Voice"] = "Numbers, audio, IVRs (URA) and calls.",
        ["Webchat"] = "The public visitor API a site's widget calls: a session per visitor, messages, replies as server-sent events.",
    };

    public static IServiceCollection AddOmniOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", o =>
        {
            o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            o.AddOperationTransformer(OpenApiOperations.TransformAsync);
            o.AddOperationTransformer(Http.ApiExamples.ApplyAsync);
            o.AddDocumentTransformer(async (document, context, cancellationToken) =>
            {
                document.Info = new OpenApiInfo { Title = Title, Version = "v1", Description = Description };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes = OpenApiSecurity.Schemes.ToDictionary(s => s.Key, IOpenApiSecurityScheme (s) => s.Value);
                document.Security = null;
                foreach (var server in document.Servers ?? [])
                {
                    // The request's own address; generators join paths to it, and "/api/…" after a "/" doubles it.
                    server.Url = server.Url?.TrimEnd('/');
                }

                foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
                {
                    tag.Description ??= tag.Name is { } name && TagDescriptions.TryGetValue(name, out var text) ? text : null;
                }

                await DescribeProblemSchemasAsync(document, context, cancellationToken);
                AddProblemExamples(document);
                UniqueOperationIds(document);
            });
        });

    /// <summary>Both problem shapes, present even when no route named them, with the members every problem of ours has.</summary>
    private static async Task DescribeProblemSchemasAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var schemas = document.Components!.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        foreach (var (id, type) in new[]
                 {
                     (OpenApiOperations.ProblemSchema, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails)),
                     (OpenApiOperations.ValidationProblemSchema, typeof(HttpValidationProblemDetails)),
                 })
        {
            if (!schemas.TryGetValue(id, out var existing))
            {
                existing = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
                schemas[id] = existing;
            }

            if (existing is OpenApiSchema schema)
            {
                schema.Description = id == OpenApiOperations.ProblemSchema
                    ? "An RFC 9457 problem document."
                    : "An RFC 9457 problem document whose `errors` name each bad field (a path such as settings.incoming.port) with its messages.";
                schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
                schema.Properties["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Quote it to support: it finds this request in the logs." };
            }
        }
    }

    /// <summary>The problem examples the operations refer to, one per status.</summary>
    private static void AddProblemExamples(OpenApiDocument document)
    {
        var examples = document.Components!.Examples ??= new Dictionary<string, IOpenApiExample>();
        var statuses = (document.Paths ?? []).SelectMany(p => (p.Value.Operations ?? []).Values)
            .SelectMany(o => o.Responses?.Keys ?? Enumerable.Empty<string>())
            .Select(k => int.TryParse(k, out var s) ? s : 0).Where(s => s >= 400).Distinct();
        foreach (var status in statuses)
        {
            examples[OpenApiOperations.ExampleId(status)] = OpenApiOperations.ProblemExample(status);
        }
    }

    /// <summary>
    /// Names must be unique for generators. A fallback name (a route without <c>.WithName()</c>, named after its
    /// handler) that another operation has already is made unique by the route's words, then by a number.
    /// </summary>
    private static void UniqueOperationIds(OpenApiDocument document)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, item) in document.Paths ?? [])
        {
            foreach (var operation in (item.Operations ?? []).Values)
            {
                var id = operation.OperationId ?? "operation";
                if (seen.Contains(id))
                {
                    id += string.Concat(path.Split('/', '_', '-', '.').Where(w => w.Length > 0 && w != "api" && !w.StartsWith('{')).Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
                }

                var unique = id;
                for (var n = 2; !seen.Add(unique); n++)
                {
                    unique = $"{id}{n}";
                }

                operation.OperationId = unique;
            }
        }
    }
}
