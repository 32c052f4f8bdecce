using System.Text.Json;
using System.Text.Json.Serialization;
using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>
/// A Graph mailbox's place in <see cref="MailboxState.Cursor"/>: the delta (or next page) link, the mailbox it was
/// made for, and the instant before which Graph asked not to be called.
/// </summary>
internal sealed record GraphCursor(
    [property: JsonPropertyName("mailbox")] string? Mailbox,
    [property: JsonPropertyName("link")] string? Link,
    [property: JsonPropertyName("notBefore")] DateTimeOffset? NotBefore)
{
    public static GraphCursor Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return new GraphCursor(null, null, null);
        }

        try
        {
            return JsonSerializer.Deserialize(value, GraphJsonContext.Default.GraphCursor) ?? new GraphCursor(null, null, null);
        }
        catch (JsonException)
        {
            // Not ours (a channel whose type changed): start over.
            return new GraphCursor(null, null, null);
        }
    }

    public override string ToString() => JsonSerializer.Serialize(this, GraphJsonContext.Default.GraphCursor);
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GraphCursor))]
internal sealed partial class GraphJsonContext : JsonSerializerContext;
