using Microsoft.Extensions.Options;

namespace Omni.Functions.Triggers;

/// <summary>
/// <c>POST /{FunctionName}</c> for every timer and queue function: how the Functions host invokes a custom
/// handler. A handler that throws answers 500, so the host retries the message and finally poison-queues it.
/// Mapped only under the host: an app running its triggers itself would otherwise take anonymous invocations.
/// </summary>
internal static partial class InvocationEndpoints
{
    public static IEndpointRouteBuilder MapInvocationEndpoints(this IEndpointRouteBuilder routes)
    {
        if (LocalTriggerRunner.ShouldRun(routes.ServiceProvider.GetRequiredService<IOptions<TriggerOptions>>().Value))
        {
            return routes;
        }

        var catalog = routes.ServiceProvider.GetRequiredService<FunctionCatalog>();
        var registry = routes.ServiceProvider.GetRequiredService<IOptions<TriggerRegistry>>().Value;
        foreach (var function in catalog.Functions.Where(f => f.Kind != TriggerKind.Http))
        {
            routes.MapPost($"/{function.Name}", (InvocationRequest request, HttpContext http, TimeProvider clock, ILoggerFactory loggers) =>
                    InvokeAsync(function, registry, request, http, clock, loggers.CreateLogger("Omni.Functions.Triggers.Invocation")))
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
                await registry.Queues[function.Name](http.RequestServices, message, http.RequestAborted);
            }
            else
            {
                await registry.Timers[function.Name](http.RequestServices, InvocationDecoder.DecodeTimer(request, function.BindingName, clock.GetUtcNow()), http.RequestAborted);
            }

            return TypedResults.Json(new InvocationResponse());
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            LogFailed(logger, ex, function.Name, invocationId);
            return TypedResults.Json(new InvocationResponse { Logs = [$"{function.Name} failed: {ex.GetType().Name}: {ex.Message}"] }, statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Function {Function} failed (invocation {InvocationId})")]
    private static partial void LogFailed(ILogger logger, Exception exception, string function, string invocationId);
}
