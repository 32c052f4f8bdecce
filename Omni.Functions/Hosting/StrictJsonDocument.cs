using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;

namespace Omni.Functions.Hosting;

/// <summary>What makes a syntactically valid JSON body unreadable, and where: a field path as validation errors name it.</summary>
internal sealed record JsonBodyProblem(string Field, string Message);

/// <summary>
/// Reads a whole JSON document once and finds what System.Text.Json would bind without complaint but then fail to
/// read back: a JsonObject keeps strings as raw bytes and decodes them (and throws) only when a validator reads
/// them, and it throws on a key that appears twice. So every string and property name at any depth is decoded here
/// with a strict decoder (no invalid UTF-8, no overlong forms, no lone surrogates, escaped or not), every object's
/// keys must differ, and every number must fit a double (RFC 7493, I-JSON). Syntax errors are left to the binder,
/// which already answers them with a 400 that says where.
/// </summary>
internal static class StrictJsonDocument
{
    private const int MaxSegmentLength = 100;

    public static JsonBodyProblem? FindProblem(ReadOnlySpan<byte> utf8, JsonReaderOptions options)
    {
        var reader = new Utf8JsonReader(utf8, options);
        // One entry per open container: its path, the keys seen so far (objects) or the next index (arrays).
        var scopes = new Stack<Scope>();
        string? pendingName = null;
        try
        {
            while (reader.Read())
            {
                var problem = reader.TokenType switch
                {
                    JsonTokenType.PropertyName => ReadName(ref reader, scopes.Peek(), out pendingName),
                    JsonTokenType.String => Decodes(ref reader) ? null : new(PathOfValue(scopes, ref pendingName), $"The string {Flaw(ref reader)}."),
                    JsonTokenType.Number => reader.TryGetDouble(out var number) && double.IsFinite(number) ? null : new(PathOfValue(scopes, ref pendingName), "A number too large to represent."),
                    JsonTokenType.StartObject or JsonTokenType.StartArray => Open(scopes, ref pendingName, reader.TokenType),
                    JsonTokenType.EndObject or JsonTokenType.EndArray => Close(scopes),
                    _ => Value(scopes, ref pendingName),
                };
                if (problem is not null)
                {
                    return problem;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON at all (truncated, too deep, trailing text): the binder reports it with line and path.
        }

        return null;
    }

    private static JsonBodyProblem? ReadName(ref Utf8JsonReader reader, Scope scope, out string? name)
    {
        name = null;
        if (!Decodes(ref reader))
        {
            return new(scope.Path, $"A property name {Flaw(ref reader)}.");
        }

        name = reader.GetString()!;
        return scope.Keys!.Add(name) ? null : new(Append(scope.Path, name), "Appears more than once in the same object.");
    }

    private static JsonBodyProblem? Open(Stack<Scope> scopes, ref string? pendingName, JsonTokenType token)
    {
        var path = PathOfValue(scopes, ref pendingName);
        scopes.Push(new Scope(path, token == JsonTokenType.StartObject ? new HashSet<string>(StringComparer.Ordinal) : null));
        return null;
    }

    private static JsonBodyProblem? Close(Stack<Scope> scopes)
    {
        scopes.Pop();
        return null;
    }

    private static JsonBodyProblem? Value(Stack<Scope> scopes, ref string? pendingName)
    {
        PathOfValue(scopes, ref pendingName);
        return null;
    }

    /// <summary>The path of the value the reader stands on; in an array it also moves on to the next index.</summary>
    private static string PathOfValue(Stack<Scope> scopes, ref string? pendingName)
    {
        if (!scopes.TryPeek(out var parent))
        {
            return "$";
        }

        if (parent.Keys is null)
        {
            return $"{parent.Path}[{parent.NextIndex++}]";
        }

        var path = Append(parent.Path, pendingName ?? "");
        pendingName = null;
        return path;
    }

    private static string Append(string parent, string name)
    {
        if (name.Length > MaxSegmentLength)
        {
            name = name[..MaxSegmentLength] + "…";
        }

        return parent == "$" ? name : $"{parent}.{name}";
    }

    private static bool Decodes(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        // Unescaping never makes text longer, so the raw length is enough room.
        var buffer = ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            return Utf8.IsValid(buffer.AsSpan(0, reader.CopyString(buffer)));
        }
        catch (InvalidOperationException)
        {
            // The reader's own verdict on an escaped surrogate without its pair.
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Flaw(ref Utf8JsonReader reader) => reader.ValueIsEscaped && Utf8.IsValid(reader.ValueSpan)
        ? "holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair)"
        : "is not valid UTF-8";

    private sealed class Scope(string path, HashSet<string>? keys)
    {
        public string Path { get; } = path;

        /// <summary>The keys seen so far; null for an array.</summary>
        public HashSet<string>? Keys { get; } = keys;

        public int NextIndex { get; set; }
    }
}
