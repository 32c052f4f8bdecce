using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Omni.Tests.Hosting;

/// <summary>One generated request body: what was done to it, its bytes and the content type it is sent with (null: none).</summary>
internal sealed record MalformedBody(string Kind, byte[] Bytes, string? ContentType);

/// <summary>
/// Turns a valid body into a malformed one, at any depth: bad UTF-8 (invalid bytes, overlong forms, encoded
/// surrogates), lone surrogate escapes, keys twice, truncation, wrong types, huge numbers, deep nesting, NUL bytes,
/// byte-order marks, broken syntax, random bytes and wrong content types. The same <see cref="Random"/> gives the
/// same bodies, so a failure replays.
/// </summary>
internal static class MalformedBodies
{
    private const string Json = "application/json";

    // ASCII that JSON never escapes, so it can be found in the serialized bytes and replaced by the payload.
    private const string Marker = "ZqFuzzMarkZq";

    private static readonly byte[][] BadUtf8 =
    [
        [0xC3, 0x28], [0xA0, 0xA1], [0x80], [0xBF], [0xE2, 0x28, 0xA1], [0xE2, 0x82, 0x28], [0xF0, 0x28, 0x8C, 0xBC], [0xF0, 0x90, 0x28, 0xBC],
        [0xF8, 0xA1, 0xA1, 0xA1, 0xA1], [0xFC, 0xA1, 0xA1, 0xA1, 0xA1, 0xA1], [0xFE], [0xFF], [0xFF, 0xFE],
        // Overlong forms of NUL, '/' and '"'.
        [0xC0, 0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xF0, 0x80, 0x80, 0xAF], [0xC0, 0xA2], [0xE0, 0x80, 0xA2],
        // Surrogates encoded as UTF-8 (CESU-8), beyond U+10FFFF, and sequences cut short.
        [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3],
    ];

    private static readonly string[] LoneSurrogates =
        ["\\ud800", "\\udfff", "\\uDBFF", "\\ude00", "\\ud83d x", "\\ud800\\ud800", "\\udc00\\ud800", "\\uD83D\\u0041", "a\\ud800", "\\ud83d\\ude00\\ud83d"];

    private static readonly string[] Numbers =
        ["1e400", "-1e400", "1E+309", "123456789012345678901234567890123456789", "1" + new string('0', 400), "-0", "0.000000000000000000000000001", "4.9e-325", "1e-400", "9223372036854775808", "-9223372036854775809", "1.7976931348623157e308"];

    private static readonly string[] BadNumbers = ["01", "1.", ".5", "+1", "NaN", "Infinity", "-Infinity", "0x10", "1e", "--1", "1_000"];

    private static readonly string[] BadSyntax =
    [
        "{\"a\":1,}", "[1,2,]", "{'a':1}", "{a:1}", "{\"a\":1}}", "{\"a\":1} {\"b\":2}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "/* c */ {\"a\":1}", "{\"a\":1} // c",
        "{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u{41}\"}", "{\"a\":\"\\\"}", "{\"a\":tru}", "{\"a\":nul}", "{,}", "{:}", "]", "}", "\"", "{\"a\":\"\t\"}", "{\"a\":\"\n\"}",
    ];

    private static readonly string[] EscapedControls = ["\\u0000", "a\\u0000b", "\\u001f", "\\u007f", "\\ufffe", "\\uffff", "\\ufeff", "\\u2028"];

    private static readonly string[] RootKinds = ["[]", "[{}]", "\"x\"", "1", "null", "true", " ", "\r\n", "{}", "[null]"];

    private static readonly string[] WrongContentTypes =
    [
        "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/octet-stream",
        "application/json; charset=bogus", "application/json; charset=utf-7", "application/json; charset=\"\"", "application/jsonx", "json", "*/*",
    ];

    public static MalformedBody Generate(Random random, JsonObject valid, int index)
    {
        var body = (JsonObject)valid.DeepClone();
        AddIgnoredFields(random, body);
        return random.Next(17) switch
        {
            0 => Splice(random, body, "bad UTF-8 value", Quoted(random.Next(3) == 0 ? [] : "a"u8.ToArray(), Pick(random, BadUtf8), "b"u8.ToArray())),
            1 => SpliceName(random, body, "bad UTF-8 key", Quoted([], Pick(random, BadUtf8), "k"u8.ToArray())),
            2 => Splice(random, body, "lone surrogate value", Encoding.UTF8.GetBytes($"\"{Pick(random, LoneSurrogates)}\"")),
            3 => SpliceName(random, body, "lone surrogate key", Encoding.UTF8.GetBytes($"\"{Pick(random, LoneSurrogates)}\"")),
            4 => DuplicateKey(random, body),
            5 => Truncated(random, body),
            6 => WrongType(random, body),
            7 => Splice(random, body, "huge number", Encoding.UTF8.GetBytes(Pick(random, random.Next(4) == 0 ? BadNumbers : Numbers))),
            8 => Splice(random, body, "deep nesting", Encoding.UTF8.GetBytes(Nested(random))),
            9 => Nul(random, body),
            10 => ByteOrderMark(random, body),
            11 => new("wrong content type", Serialize(body), Pick(random, WrongContentTypes)),
            12 => Charset(random, body),
            13 => random.Next(2) == 0 ? new("broken syntax", Encoding.UTF8.GetBytes(Pick(random, BadSyntax)), Json) : RootOfAnotherKind(random),
            14 => RandomBytes(random),
            15 when index % 400 == 7 => new("oversize", Encoding.UTF8.GetBytes("{\"name\":\"" + new string('a', 1024 * 1024 + random.Next(1000)) + "\"}"), Json),
            _ => Splice(random, body, "escaped control characters", Encoding.UTF8.GetBytes($"\"{Pick(random, EscapedControls)}\"")),
        };
    }

    /// <summary>Fields the API ignores, nested, so malformed text also lands where no endpoint would look.</summary>
    private static void AddIgnoredFields(Random random, JsonObject body)
    {
        var objects = Objects(body).ToList();
        for (var k = random.Next(3); k > 0; k--)
        {
            Pick(random, objects)[$"x{random.Next(1000)}"] = new JsonObject { ["deep"] = new JsonArray(new JsonObject { ["k"] = "v" }, "s", 1, null) };
        }
    }

    /// <summary>Replaces one value somewhere in the body (any depth) by the given raw JSON text.</summary>
    private static MalformedBody Splice(Random random, JsonObject body, string kind, byte[] rawValue)
    {
        var (parent, slot) = Pick(random, Slots(body).ToList());
        Set(parent, slot, Marker);
        return new(kind, Replace(Serialize(body), $"\"{Marker}\"", rawValue), Json);
    }

    /// <summary>Renames one key somewhere in the body (any depth) to the given raw JSON string.</summary>
    private static MalformedBody SpliceName(Random random, JsonObject body, string kind, byte[] rawName)
    {
        var target = Pick(random, Objects(body).Where(o => o.Count > 0).ToList());
        var key = target.ElementAt(random.Next(target.Count)).Key;
        var value = target[key]?.DeepClone();
        target.Remove(key);
        target[Marker] = value;
        return new(kind, Replace(Serialize(body), $"\"{Marker}\"", rawName), Json);
    }

    private static MalformedBody DuplicateKey(Random random, JsonObject body)
    {
        var target = Pick(random, Objects(body).Where(o => o.Count > 0).ToList());
        var key = target.ElementAt(random.Next(target.Count)).Key;
        target[Marker] = random.Next(2) == 0 ? target[key]?.DeepClone() : RandomValue(random);
        return new("duplicate key", Replace(Serialize(body), $"\"{Marker}\"", JsonSerializer.SerializeToUtf8Bytes(key)), Json);
    }

    private static MalformedBody Truncated(Random random, JsonObject body)
    {
        var bytes = Serialize(body);
        return new("truncated", bytes[..random.Next(bytes.Length)], Json);
    }

    private static MalformedBody WrongType(Random random, JsonObject body)
    {
        var slots = Slots(body).ToList();
        for (var k = random.Next(1, 4); k > 0; k--)
        {
            var (parent, slot) = Pick(random, slots);
            Set(parent, slot, RandomValue(random));
            slots = Slots(body).ToList();
        }

        return new("wrong types", Serialize(body), Json);
    }

    private static string Nested(Random random)
    {
        var depth = random.Next(10, 2500);
        return random.Next(2) == 0
            ? new string('[', depth) + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
    }

    private static MalformedBody Nul(Random random, JsonObject body) => random.Next(4) switch
    {
        0 => Splice(random, body, "NUL byte in a string", Quoted("a"u8.ToArray(), [0x00], "b"u8.ToArray())),
        1 => new("NUL byte after the body", [.. Serialize(body), 0x00], Json),
        2 => new("NUL byte before the body", [0x00, .. Serialize(body)], Json),
        _ => SpliceName(random, body, "NUL byte in a key", Quoted([], [0x00], "k"u8.ToArray())),
    };

    private static MalformedBody ByteOrderMark(Random random, JsonObject body) => random.Next(5) switch
    {
        0 => new("UTF-8 byte-order mark", [0xEF, 0xBB, 0xBF, .. Serialize(body)], Json),
        1 => new("two byte-order marks", [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, .. Serialize(body)], Json),
        2 => new("UTF-16 byte-order mark on UTF-8", [0xFF, 0xFE, .. Serialize(body)], Json),
        3 => new("UTF-32 byte-order mark on UTF-8", [0x00, 0x00, 0xFE, 0xFF, .. Serialize(body)], Json),
        _ => Splice(random, body, "byte-order mark in a string", Quoted([], [0xEF, 0xBB, 0xBF], "x"u8.ToArray())),
    };

    /// <summary>A charset that does not match the bytes, or one that does with text that does not fit it.</summary>
    private static MalformedBody Charset(Random random, JsonObject body) => random.Next(5) switch
    {
        0 => new("UTF-8 bytes declared UTF-16", Serialize(body), "application/json; charset=utf-16"),
        1 => new("UTF-16 bytes, odd length", [.. Encoding.Unicode.GetBytes(body.ToJsonString()), 0x41], "application/json; charset=utf-16"),
        // Written byte by byte: an encoder would replace the lone surrogate.
        2 => new("UTF-16 with a lone surrogate", [.. Encoding.Unicode.GetBytes(body.ToJsonString()[..^1] + ",\"s\":\""), 0x00, 0xD8, .. Encoding.Unicode.GetBytes("\"}")], "application/json; charset=utf-16"),
        3 => new("bad UTF-8 declared latin1", Splice(random, body, "", Quoted([], Pick(random, BadUtf8), [])).Bytes, "application/json; charset=iso-8859-1"),
        _ => new("UTF-32 bytes declared UTF-8", Encoding.UTF32.GetBytes(body.ToJsonString()), "application/json; charset=utf-8"),
    };

    private static MalformedBody RootOfAnotherKind(Random random) =>
        new("root of another kind", Encoding.UTF8.GetBytes(Pick(random, RootKinds)), Json);

    private static MalformedBody RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(1, 400)];
        random.NextBytes(bytes);
        if (random.Next(2) == 0)
        {
            bytes[0] = (byte)'{';
        }

        return new("random bytes", bytes, Json);
    }

    private static JsonNode? RandomValue(Random random, int depth = 0) => random.Next(depth > 2 ? 7 : 9) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(int.MinValue, int.MaxValue)),
        2 => JsonValue.Create(random.NextDouble() * 1e300),
        3 => JsonValue.Create(random.Next(2) == 0),
        4 => JsonValue.Create(RandomText(random, random.Next(0, 40))),
        5 => JsonValue.Create(new string('x', random.Next(150, 5000))),
        6 => JsonValue.Create(long.MaxValue),
        7 => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(random, depth + 1)).ToArray()),
        _ => new JsonObject(Enumerable.Range(0, random.Next(4)).Select(k => KeyValuePair.Create($"f{k}", RandomValue(random, depth + 1)))),
    };

    private static string RandomText(Random random, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = random.Next(5) switch
            {
                0 => (char)random.Next(0, 32),
                1 => (char)random.Next(0x80, 0x800),
                2 => "\"\\/{}[]:,<>&'"[random.Next(13)],
                _ => (char)random.Next(32, 127),
            };
        }

        return new string(chars);
    }

    private static IEnumerable<JsonObject> Objects(JsonNode? node) => node switch
    {
        JsonObject o => new[] { o }.Concat(o.SelectMany(p => Objects(p.Value))),
        JsonArray a => a.SelectMany(Objects),
        _ => [],
    };

    /// <summary>Every place a value sits: (its object, key) or (its array, index), at every depth.</summary>
    private static IEnumerable<(JsonNode Parent, object Slot)> Slots(JsonNode? node) => node switch
    {
        JsonObject o => o.ToList().SelectMany(p => new[] { ((JsonNode)o, (object)p.Key) }.Concat(Slots(p.Value))),
        JsonArray a => a.Select((v, i) => (v, i)).ToList().SelectMany(x => new[] { ((JsonNode)a, (object)x.i) }.Concat(Slots(x.v))),
        _ => [],
    };

    private static void Set(JsonNode parent, object slot, JsonNode? value)
    {
        if (slot is string key)
        {
            parent.AsObject()[key] = value;
        }
        else
        {
            parent.AsArray()[(int)slot] = value;
        }
    }

    private static byte[] Quoted(byte[] before, byte[] payload, byte[] after) => [(byte)'"', .. before, .. payload, .. after, (byte)'"'];

    private static byte[] Serialize(JsonObject body) => Encoding.UTF8.GetBytes(body.ToJsonString());

    private static byte[] Replace(byte[] bytes, string marker, byte[] replacement)
    {
        var at = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker));
        return at < 0 ? bytes : [.. bytes[..at], .. replacement, .. bytes[(at + marker.Length)..]];
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];
}
