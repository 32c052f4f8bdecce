using System.Diagnostics;
using Omni.Telemetry;

namespace Omni.Functions.Triggers;

/// <summary>
/// Each timer run and queue message in an activity of its own, however it arrived (host invocation or the local
/// runner): a queue message's is the child of the activity that sent it (<see cref="QueueTracing"/>). A failure marks
/// the activity with the exception's type only: its message may name what a tag must not.
/// </summary>
internal static class TriggerTracing
{
    public static QueueFunctionHandler Traced(FunctionDefinition function, QueueFunctionHandler handler) =>
        async (services, message, cancellationToken) =>
        {
            using var activity = QueueTracing.StartProcess(function.QueueName ?? function.Name, function.Name, message.Body, message.Id, message.DequeueCount);
            await RunAsync(activity, () => handler(services, message, cancellationToken));
        };

    public static TimerFunctionHandler Traced(FunctionDefinition function, TimerFunctionHandler handler) =>
        async (services, timer, cancellationToken) =>
        {
            using var activity = OmniTelemetry.Source.HasListeners() ? OmniTelemetry.Source.StartActivity("timer " + function.Name) : null;
            activity?.SetTag("omni.function", function.Name);
            await RunAsync(activity, () => handler(services, timer, cancellationToken));
        };

    private static async Task RunAsync(Activity? activity, Func<Task> run)
    {
        try
        {
            await run();
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }
    }
}
