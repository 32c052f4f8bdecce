using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Omni.Functions.Hosting;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Deployment;

/// <summary>
/// The deployment package is Native AOT, where reflection-based JSON fails at run time for most records (see
/// docs/operators.md). Every body an endpoint reads or writes must therefore be in <see cref="ApiJsonContext"/>;
/// this finds the endpoints' types from their metadata, so a new endpoint cannot forget.
/// </summary>
public sealed class AotJsonCoverageTests(AzuriteFixture azurite) : IAsyncLifetime
{
    // Written by ASP.NET Core's own source-generated context, or not JSON at all.
    private static readonly HashSet<Type> Framework = [typeof(ProblemDetails), typeof(HttpValidationProblemDetails), typeof(string), typeof(void)];

    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public void EveryRequestAndResponseBodyOfAnEndpointHasSourceGeneratedJson()
    {
        _app.StartServer();
        var endpoints = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var bodies = endpoints.SelectMany(e =>
                e.Metadata.OfType<IProducesResponseTypeMetadata>().Select(m => (Endpoint: e, m.Type))
                    .Concat(e.Metadata.OfType<IAcceptsMetadata>().Select(m => (Endpoint: e, Type: m.RequestType))))
            .Where(b => b.Type is not null && !Framework.Contains(b.Type) && !typeof(IResult).IsAssignableFrom(b.Type))
            .ToList();

        var missing = bodies.Where(b => ApiJsonContext.Default.GetTypeInfo(b.Type!) is null)
            .Select(b => $"{b.Type} ({b.Endpoint.RoutePattern.RawText})")
            .Distinct()
            .ToList();

        Assert.NotEmpty(bodies);
        Assert.True(missing.Count == 0,
            "Add [JsonSerializable(typeof(...))] to Omni.Functions/Hosting/ApiJsonContext.cs for: " + string.Join("; ", missing));
    }

    [Fact]
    public void ApiBodiesAreResolvedBySourceGeneratedMetadataBeforeReflection()
    {
        _app.StartServer();
        var options = _app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;

        var chain = options.TypeInfoResolverChain.ToList();
        var reflection = chain.FindIndex(r => r is System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver);
        Assert.Contains(ApiJsonContext.Default, chain);
        Assert.True(reflection < 0 || chain.IndexOf(ApiJsonContext.Default) < reflection, "ApiJsonContext must come before the reflection-based resolver.");
    }
}
