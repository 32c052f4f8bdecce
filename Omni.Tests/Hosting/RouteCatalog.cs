using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Hosting;

/// <summary>The app's own HTTP routes, read from its endpoint data source, so matrices grow with the API.</summary>
internal static class RouteCatalog
{
    public static IReadOnlyList<(string Method, string Pattern)> ApiRoutes(OmniApp app) => Routes(app, _ => true);

    /// <summary>The routes the OpenAPI document must describe: all but those excluded on purpose (a CORS preflight is no operation).</summary>
    public static IReadOnlyList<(string Method, string Pattern)> DescribedRoutes(OmniApp app) =>
        Routes(app, e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IExcludeFromDescriptionMetadata>() is not { ExcludeFromDescription: true });

    /// <summary>The routes that bind a JSON body.</summary>
    public static IReadOnlyList<(string Method, string Pattern)> BodyRoutes(OmniApp app) =>
        Routes(app, e => e.Metadata.GetMetadata<IAcceptsMetadata>() is { RequestType: not null });

    private static List<(string Method, string Pattern)> Routes(OmniApp app, Func<RouteEndpoint, bool> predicate)
    {
        app.StartServer();
        var sources = app.Services.GetRequiredService<IEnumerable<EndpointDataSource>>();
        return sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true && predicate(e))
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (m, e.RoutePattern.RawText!.TrimEnd('/'))))
            .Distinct()
            .OrderBy(r => r.Item2, StringComparer.Ordinal).ThenBy(r => r.m, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Fills route parameters: known ones from <paramref name="values"/>, the rest with an id that exists nowhere.</summary>
    public static string Fill(string pattern, IReadOnlyDictionary<string, string> values) =>
        System.Text.RegularExpressions.Regex.Replace(pattern, @"\{\*?([A-Za-z]+)[^}]*\}", m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : "x_unknown");
}
