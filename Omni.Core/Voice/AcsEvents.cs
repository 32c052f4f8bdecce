using System.Text.Json;
using System.Text.Json.Nodes;

namespace Omni.Voice;

/// <summary>An IncomingCall event: who called which number, the context ACS answers it by, when it arrived.</summary>
internal sealed record IncomingCall(string EventId, string? To, string? From, JsonNode? Caller, string IncomingCallContext, string? CorrelationId, DateTimeOffset? At);

/// <summary>What a POST to the events endpoint held: a subscription handshake's code, incoming calls, or nothing readable.</summary>
internal sealed record EventDelivery(string? ValidationCode, IReadOnlyList<IncomingCall> Calls, bool Readable);

/// <summary>
/// Event Grid's and ACS's payloads as documented: Event Grid schema (<c>eventType</c>, <c>eventTime</c>, an array)
/// and CloudEvents 1.0 (<c>type</c>, <c>time</c>, one event or a batch), so a subscription of either schema works.
/// </summary>
internal static class AcsEvents
{
    public const string ValidationEvent = "Microsoft.EventGrid.SubscriptionValidationEvent";
    public const string IncomingCallEvent = "Microsoft.Communication.IncomingCall";
    private const string CallbackPrefix = "Microsoft.Communication.";

    public static EventDelivery ReadDelivery(byte[] body)
    {
        if (Events(body) is not { } events)
        {
            return new(null, [], false);
        }

        string? validation = null;
        var calls = new List<IncomingCall>();
        foreach (var e in events)
        {
            var type = Text(e, "eventType") ?? Text(e, "type");
            if (type == ValidationEvent)
            {
                validation = Text(e["data"], "validationCode");
            }
            else if (type == IncomingCallEvent && Text(e["data"], "incomingCallContext") is { Length: > 0 } context)
            {
                var data = e["data"]!;
                calls.Add(new IncomingCall(Text(e, "id") ?? "", Number(data["to"]), Number(data["from"]), data["from"]?.DeepClone(), context,
                    Text(data, "correlationId") ?? Text(data, "serverCallId"), Instant(Text(e, "eventTime") ?? Text(e, "time"))));
            }
        }

        return new(validation, calls, true);
    }

    /// <summary>The call's callback events the flow knows; null when the body is no CloudEvent or batch of them.</summary>
    public static IReadOnlyList<CallEvent>? ReadCallbacks(byte[] body)
    {
        if (Events(body) is not { } events)
        {
            return null;
        }

        var read = new List<CallEvent>();
        foreach (var e in events)
        {
            var type = Text(e, "type") ?? Text(e, "eventType");
            if (type is null || !type.StartsWith(CallbackPrefix, StringComparison.Ordinal)
                || !Enum.TryParse<CallEventKind>(KindName(type[CallbackPrefix.Length..]), out var kind))
            {
                // Events the flow does not wait for (ParticipantsUpdated, PlayStarted, …) are taken and ignored.
                continue;
            }

            var data = e["data"];
            read.Add(new CallEvent(kind, Text(data, "callConnectionId"), Text(data, "operationContext"), Digit(data)));
        }

        return read;
    }

    private static string KindName(string type) => type switch
    {
        "CallConnected" => nameof(CallEventKind.Connected),
        "CallDisconnected" => nameof(CallEventKind.Disconnected),
        "CallTransferAccepted" => nameof(CallEventKind.TransferAccepted),
        "CallTransferFailed" => nameof(CallEventKind.TransferFailed),
        "PlayCompleted" or "PlayFailed" or "RecognizeCompleted" or "RecognizeFailed" => type,
        _ => "",
    };

    private static string? Digit(JsonNode? data) =>
        data?["dtmfResult"]?["tones"] is JsonArray { Count: > 0 } tones && tones[0] is JsonValue tone && tone.TryGetValue<string>(out var name)
            ? name switch
            {
                "zero" => "0", "one" => "1", "two" => "2", "three" => "3", "four" => "4",
                "five" => "5", "six" => "6", "seven" => "7", "eight" => "8", "nine" => "9",
                "pound" => "#", "asterisk" => "*",
                _ => "?",
            }
            : null;

    /// <summary>The identifier's E.164 number: its phoneNumber value, or a raw id of the form <c>4:+55…</c>.</summary>
    private static string? Number(JsonNode? identifier) =>
        Text(identifier?["phoneNumber"], "value") ?? (Text(identifier, "rawId") is { } raw && raw.StartsWith("4:", StringComparison.Ordinal) ? raw[2..] : null);

    private static DateTimeOffset? Instant(string? text) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : null;

    private static List<JsonNode>? Events(byte[] body)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException)
        {
            return null;
        }

        return root switch
        {
            JsonArray array when array.All(e => e is JsonObject) => array.Select(e => e!).ToList(),
            JsonObject single => [single],
            _ => null,
        };
    }

    private static string? Text(JsonNode? node, string name) =>
        node is JsonObject o && o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
