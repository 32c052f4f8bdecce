using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Omni.Telemetry;

/// <summary>
/// One trace across the queues: a message sent while an activity runs carries its W3C trace context in two optional
/// top-level fields, <c>traceparent</c> and <c>tracestate</c>, and the function that takes it starts its activity as
/// that producer's child. Every queue message is a JSON object whose record ignores fields it does not know, so the
/// fields need no record of their own; a message queued without them (before this, or while nothing listened) is
/// processed as before and starts a trace of its own. Nothing is added while no one listens to <see cref="OmniTelemetry.Source"/>.
/// </summary>
public static class QueueTracing
{
    public const string TraceParentField = "traceparent";
    public const string TraceStateField = "tracestate";

    private const string MessagingSystem = "azure.storage.queue";

    /// <summary>A producer span for one send, or null when no one listens (or it is sampled out).</summary>
    public static Activity? StartSend(string queueName)
    {
        if (!OmniTelemetry.Source.HasListeners())
        {
            return null;
        }

        var activity = OmniTelemetry.Source.StartActivity("send " + queueName, ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", MessagingSystem);
            activity.SetTag("messaging.operation.type", "send");
            activity.SetTag("messaging.destination.name", queueName);
        }

        return activity;
    }

    /// <summary>
    /// <paramref name="body"/> with the context of <paramref name="producer"/> (or the current activity) as its first
    /// fields, replacing any it carried (a message queued again as it was). Anything not a JSON object is left alone.
    /// </summary>
    public static string Inject(string body, Activity? producer)
    {
        var context = producer ?? Activity.Current;
        if (context is null || !OmniTelemetry.Source.HasListeners() || !body.StartsWith('{'))
        {
            return body;
        }

        JsonObject? message;
        try
        {
            message = JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return body;
        }

        if (message is null)
        {
            return body;
        }

        var traced = new JsonObject { [TraceParentField] = context.Id };
        if (context.TraceStateString is { Length: > 0 } state)
        {
            traced[TraceStateField] = state;
        }

        foreach (var (name, value) in message.ToList())
        {
            if (name is not (TraceParentField or TraceStateField))
            {
                message.Remove(name);
                traced[name] = value;
            }
        }

        return traced.ToJsonString();
    }

    /// <summary>The producer's context carried by <paramref name="body"/>, if it carries a valid one.</summary>
    public static ActivityContext? Extract(string body)
    {
        if (!body.StartsWith('{'))
        {
            return null;
        }

        string? parent = null;
        string? state = null;
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(body));
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isParent = reader.ValueTextEquals(TraceParentField);
                var isState = !isParent && reader.ValueTextEquals(TraceStateField);
                reader.Read();
                if (isParent && reader.TokenType == JsonTokenType.String)
                {
                    parent = reader.GetString();
                }
                else if (isState && reader.TokenType == JsonTokenType.String)
                {
                    state = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return parent is not null && ActivityContext.TryParse(parent, state, isRemote: true, out var context) ? context : null;
    }

    /// <summary>
    /// The consumer span of one queue message, child of the producer that sent it; the activity already running (the
    /// host's invocation request) is linked. Null when no one listens.
    /// </summary>
    public static Activity? StartProcess(string queueName, string functionName, string body, string messageId, long dequeueCount)
    {
        if (!OmniTelemetry.Source.HasListeners())
        {
            return null;
        }

        var producer = Extract(body);
        var current = Activity.Current;
        var links = producer is not null && current is not null ? new[] { new ActivityLink(current.Context) } : null;
        var activity = OmniTelemetry.Source.StartActivity("process " + queueName, ActivityKind.Consumer, producer ?? current?.Context ?? default, links: links);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("messaging.system", MessagingSystem);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", queueName);
            activity.SetTag("messaging.message.id", messageId);
            activity.SetTag("messaging.message.delivery_count", dequeueCount);
            activity.SetTag("omni.function", functionName);
        }

        return activity;
    }
}
