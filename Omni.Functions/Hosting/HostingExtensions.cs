using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Omni.Functions.Hosting;

internal static class HostingExtensions
{
    /// <summary>Kestrel's address when the Functions host launches us: it picks the port, we bind loopback only.</summary>
    public static IHostApplicationBuilder UseCustomHandlerPort(this WebApplicationBuilder builder)
    {
        if (Environment.GetEnvironmentVariable("FUNCTIONS_CUSTOMHANDLER_PORT") is { Length: > 0 } port)
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            // The contract's body limit; endpoints that take more (audio uploads) raise it for themselves.
            k.Limits.MaxRequestBodySize = 1024 * 1024;
            k.AddServerHeader = false;
        });
        return builder;
    }

    public static IHostApplicationBuilder AddOmniApi(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<OmniOptions>().BindConfiguration(OmniOptions.Section)
            // App Service leaves a Key Vault reference it cannot resolve in place as the literal text, which would
            // make a guessable admin token: refuse to start instead.
            .Validate(o => o.AdminToken?.StartsWith("@Microsoft.KeyVault(", StringComparison.OrdinalIgnoreCase) != true,
                "Omni__AdminToken is an unresolved Key Vault reference: check the secret exists and the app's identity holds Key Vault Secrets User.")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OmniOptions>, OmniOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddScoped<TenantContext>();
        services.AddOmniProblemDetails();
        services.ConfigureHttpJsonOptions(o =>
        {
            // First: source-generated metadata, which Native AOT needs; reflection stays behind it for the rest.
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            // One generic converter per enum the API shows: the non-generic converter builds them by reflection,
            // which Native AOT cannot do for value types.
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter<Conversations.MessageDirection>(System.Text.Json.JsonNamingPolicy.CamelCase));
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter<Conversations.MessageStatus>(System.Text.Json.JsonNamingPolicy.CamelCase));
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter<Conversations.ConversationStatus>(System.Text.Json.JsonNamingPolicy.CamelCase));
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter<Webhooks.DeliveryStatus>(System.Text.Json.JsonNamingPolicy.CamelCase));
            o.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        });

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Admin, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).AddRequirements(new AdminRequirement()));
        services.AddSingleton<IAuthorizationHandler, OmniAuthorizationHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, NotFoundForOtherTenantsResultHandler>();
        services.AddOmniOpenApi();
        return builder;
    }
}
