using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Omni.Functions.Hosting;

namespace Omni.Functions.Triggers;

/// <summary>What the Functions host POSTs for a timer or queue invocation (PascalCase, as the host writes it).</summary>
public sealed class InvocationRequest
{
    [JsonPropertyName("Data")]
    public Dictionary<string, JsonElement>? Data { get; set; }

    [JsonPropertyName("Metadata")]
    public Dictionary<string, JsonElement>? Metadata { get; set; }
}

/// <summary>The answer the host needs; an empty body would leave the invocation hanging until functionTimeout.</summary>
public sealed class InvocationResponse
{
    [JsonPropertyName("Outputs")]
    public Dictionary<string, object?> Outputs { get; init; } = [];

    [JsonPropertyName("Logs")]
    public List<string> Logs { get; init; } = [];

    [JsonPropertyName("ReturnValue")]
    public object? ReturnValue { get; init; }
}

/// <summary>
/// Decodes the host's payloads defensively, as its source (not its docs) shows them: a queue message that is not
/// a JSON object arrives JSON-encoded once more, numbers may come as strings, ScheduleStatus may be null.
/// </summary>
public static class InvocationDecoder
{
    public static QueueTriggerMessage DecodeQueue(InvocationRequest request, string bindingName)
    {
        if (request.Data is null || !request.Data.TryGetValue(bindingName, out var data))
        {
            throw new InvocationFormatException($"The invocation has no Data.{bindingName}.");
        }

        var body = data.ValueKind switch
        {
            JsonValueKind.String => Unwrap(data.GetString()!),
            JsonValueKind.Object or JsonValueKind.Array => data.GetRawText(),
            JsonValueKind.Null or JsonValueKind.Undefined => throw new InvocationFormatException($"Data.{bindingName} is empty."),
            _ => data.GetRawText(),
        };

        var metadata = request.Metadata ?? [];
        return new QueueTriggerMessage(
            ReadString(metadata, "Id") ?? "",
            body,
            ReadLong(metadata, "DequeueCount") ?? 1,
            ReadString(metadata, "InsertionTime") is { } inserted && DateTimeOffset.TryParse(inserted, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null);
    }

    public static TimerTriggerInfo DecodeTimer(InvocationRequest request, string bindingName, DateTimeOffset now)
    {
        var pastDue = request.Data is not null && request.Data.TryGetValue(bindingName, out var timer) && timer.ValueKind == JsonValueKind.Object
            && timer.TryGetProperty("IsPastDue", out var p) && p.ValueKind == JsonValueKind.True;
        return new TimerTriggerInfo(now, pastDue);
    }

    /// <summary>"\"{\\\"a\\\":1}\"" → {"a":1}; a plain string stays as it is.</summary>
    private static string Unwrap(string value)
    {
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            try
            {
                return JsonSerializer.Deserialize(value, ApiJsonContext.Default.String) ?? value;
            }
            catch (JsonException)
            {
                return value;
            }
        }

        return value;
    }

    private static string? ReadString(Dictionary<string, JsonElement> metadata, string name) =>
        metadata.TryGetValue(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => Unwrap(v.GetString()!),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;

    private static long? ReadLong(Dictionary<string, JsonElement> metadata, string name) =>
        metadata.TryGetValue(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.Number when v.TryGetInt64(out var n) => n,
            JsonValueKind.String when long.TryParse(Unwrap(v.GetString()!), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
            _ => null,
        } : null;
}

public sealed class InvocationFormatException(string message) : Exception(message);
