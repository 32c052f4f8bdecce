using Microsoft.Extensions.Options;
using Omni.Functions.Hosting;

namespace Omni.Functions.Triggers;

/// <summary>
/// <c>POST /{FunctionName}</c> for every timer and queue function: how the Functions host invokes a custom
/// handler. A handler that throws answers 500, so the host retries the message and finally poison-queues it.
/// The host's protocol carries no credential (it talks to the handler it launched on 127.0.0.1 at
/// FUNCTIONS_CUSTOMHANDLER_PORT), so the routes exist only when the host launched us and leaves the triggers to
/// itself, and answer only loopback callers. Anywhere else (the triggers run locally, or <c>RunLocally=false</c>
/// outside the host) they are not mapped: an invocation would otherwise be anyone's to send.
/// </summary>
internal static partial class InvocationEndpoints
{
    public static IEndpointRouteBuilder MapInvocationEndpoints(this IEndpointRouteBuilder routes)
    {
        var configuration = routes.ServiceProvider.GetRequiredService<IConfiguration>();
        var options = routes.ServiceProvider.GetRequiredService<IOptions<TriggerOptions>>().Value;
        if (LocalTriggerRunner.ShouldRun(options, configuration))
        {
            return routes;
        }

        if (!LocalTriggerRunner.LaunchedByHost(configuration))
        {
            LogNoTriggers(routes.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Omni.Functions.Triggers.Invocation"));
            return routes;
        }

        var catalog = routes.ServiceProvider.GetRequiredService<FunctionCatalog>();
        var registry = routes.ServiceProvider.GetRequiredService<IOptions<TriggerRegistry>>().Value;
        foreach (var function in catalog.Functions.Where(f => f.Kind != TriggerKind.Http))
        {
            routes.MapPost($"/{function.Name}", (InvocationRequest request, HttpContext http, TimeProvider clock, ILoggerFactory loggers) =>
                    InvokeAsync(function, registry, request, http, clock, loggers.CreateLogger("Omni.Functions.Triggers.Invocation")))
                // Kestrel binds 127.0.0.1 under the host; this holds should it ever listen wider.
                .AddEndpointFilter(async (context, next) => IsLoopback(context.HttpContext.Connection.RemoteIpAddress) ? await next(context) : TypedResults.NotFound())
                .ExcludeFromDescription();
        }

        return routes;
    }

    private static async Task<IResult> InvokeAsync(FunctionDefinition function, TriggerRegistry registry, InvocationRequest request, HttpContext http, TimeProvider clock, ILogger logger)
    {
        var invocationId = http.Request.Headers["X-Azure-Functions-InvocationId"].ToString();
        try
        {
            if (function.Kind == TriggerKind.Queue)
            {
                var message = InvocationDecoder.DecodeQueue(request, function.BindingName);
                await TriggerTracing.Traced(function, registry.Queues[function.Name])(http.RequestServices, message, http.RequestAborted);
            }
            else
            {
                await TriggerTracing.Traced(function, registry.Timers[function.Name])(http.RequestServices, InvocationDecoder.DecodeTimer(request, function.BindingName, clock.GetUtcNow()), http.RequestAborted);
            }

            return TypedResults.Json(new InvocationResponse(), ApiJsonContext.Default.InvocationResponse);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            LogFailed(logger, ex, function.Name, invocationId);
            return TypedResults.Json(new InvocationResponse { Logs = [$"{function.Name} failed: {ex.GetType().Name}: {ex.Message}"] }, ApiJsonContext.Default.InvocationResponse, statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    private static bool IsLoopback(System.Net.IPAddress? caller) =>
        caller is not null && System.Net.IPAddress.IsLoopback(caller.IsIPv4MappedToIPv6 ? caller.MapToIPv4() : caller);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Timer and queue functions run nowhere: Omni__Triggers__RunLocally is false and the Functions host did not launch the app (no FUNCTIONS_CUSTOMHANDLER_PORT)")]
    private static partial void LogNoTriggers(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Function {Function} failed (invocation {InvocationId})")]
    private static partial void LogFailed(ILogger logger, Exception exception, string function, string invocationId);
}
