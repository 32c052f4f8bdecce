using Microsoft.OpenApi;

namespace Omni.Functions.Hosting;

internal static class OpenApiSetup
{
    public static IServiceCollection AddOmniOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", o =>
        {
            o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Omni Channels API",
                    Version = "v1",
                    Description = "Companies, services, channels, receive_hook, conversations, webhooks and audit. " +
                                  "Every credential travels as 'Authorization: Bearer <token>'; errors are RFC 9457 problem documents.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "The platform admin token, a management key (omni_mk_…) or a channel API key (omni_ck_…).",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] }];
                return Task.CompletedTask;
            });
        });
}
