using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Functions.Hosting;
using Omni.Channels;

namespace Omni.Functions.Http;

/// <summary>Platform operations that span every company: for the platform admin token only.</summary>
internal static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder routes)
    {
        var admin = routes.MapGroup("/api/admin").WithTags("Administration").RequireAdmin();
        admin.MapPost("/secrets/rewrap", RewrapSecretsAsync).WithName("rewrapSecrets")
            .WithSummary("Re-encrypt every live channel's stored secrets under the current secrets key (Omni__SecretsKeyCurrent); safe to repeat");
        return routes;
    }

    private static async Task<Ok<SecretRewrapResult>> RewrapSecretsAsync(SecretRewrap rewrap, CancellationToken cancellationToken) =>
        TypedResults.Ok(await rewrap.RewrapAllAsync(cancellationToken));
}
