using System.Net.Mail;
using System.Text.Json;
using System.Text.Json.Nodes;
using Omni.Validation;

namespace Omni.Channels;

/// <summary>
/// Reads one level of a channel's <c>settings</c>, recording a field error (by JSON path) for each value that is
/// missing or of the wrong kind, and copying the accepted values into <see cref="Output"/>. Fields it is not
/// asked for are dropped, as the contract ignores unknown fields.
/// </summary>
internal sealed class SettingsReader(JsonObject? source, string path, ValidationErrors errors)
{
    public JsonObject Output { get; } = [];

    private string PathOf(string name) => $"{path}.{name}";

    private JsonNode? Node(string name) => source?[name];

    public string? String(string name, bool required, int maxLength = 200, bool copy = true)
    {
        var node = Node(name);
        if (node is null)
        {
            if (required)
            {
                errors.Add(PathOf(name), "Required.");
            }

            return null;
        }

        if (node.GetValueKind() != JsonValueKind.String)
        {
            errors.Add(PathOf(name), "Must be a string.");
            return null;
        }

        var value = node.GetValue<string>().Trim();
        if (value.Length == 0)
        {
            if (required)
            {
                errors.Add(PathOf(name), "Required.");
            }

            return null;
        }

        if (value.Length > maxLength)
        {
            errors.Add(PathOf(name), $"At most {maxLength} characters.");
            return null;
        }

        if (copy)
        {
            Output[name] = value;
        }

        return value;
    }

    public int? Int(string name, bool required, int min, int max, int? defaultValue = null)
    {
        var node = Node(name);
        if (node is null)
        {
            if (required)
            {
                errors.Add(PathOf(name), "Required.");
            }
            else if (defaultValue is { } d)
            {
                Output[name] = d;
            }

            return defaultValue;
        }

        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<int>(out var value))
        {
            errors.Add(PathOf(name), "Must be a whole number.");
            return null;
        }

        if (value < min || value > max)
        {
            errors.Add(PathOf(name), $"Must be between {min} and {max}.");
            return null;
        }

        Output[name] = value;
        return value;
    }

    public bool? Bool(string name, bool required, bool? defaultValue = null)
    {
        var node = Node(name);
        if (node is null)
        {
            if (required)
            {
                errors.Add(PathOf(name), "Required.");
            }
            else if (defaultValue is { } d)
            {
                Output[name] = d;
            }

            return defaultValue;
        }

        if (node.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
        {
            errors.Add(PathOf(name), "Must be true or false.");
            return null;
        }

        var value = node.GetValue<bool>();
        Output[name] = value;
        return value;
    }

    /// <summary>The node, or null when it is absent (an error when it is required).</summary>
    private JsonNode? Present(string name, bool required)
    {
        var node = Node(name);
        if (node is null && required)
        {
            errors.Add(PathOf(name), "Required.");
        }

        return node;
    }

    public SettingsReader? Object(string name, bool required)
    {
        if (Present(name, required) is not { } node)
        {
            return null;
        }

        if (node is not JsonObject obj)
        {
            errors.Add(PathOf(name), "Must be an object.");
            return null;
        }

        var reader = new SettingsReader(obj, PathOf(name), errors);
        Output[name] = reader.Output;
        return reader;
    }

    public List<string>? StringArray(string name, bool required, int maxItems, int maxLength = 200)
    {
        if (Present(name, required) is not { } node)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            errors.Add(PathOf(name), "Must be an array of strings.");
            return null;
        }

        if (array.Count > maxItems)
        {
            errors.Add(PathOf(name), $"At most {maxItems} items.");
            return null;
        }

        var values = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String || v.GetValue<string>().Trim() is not { Length: > 0 } s || s.Length > maxLength)
            {
                errors.Add($"{PathOf(name)}[{i}]", $"Must be a non-empty string of at most {maxLength} characters.");
                continue;
            }

            values.Add(s);
        }

        if (required && values.Count == 0 && array.Count == 0)
        {
            errors.Add(PathOf(name), "At least one item is required.");
        }

        Output[name] = new JsonArray(values.Select(v => (JsonNode?)v).ToArray());
        return values;
    }

    /// <summary>A plain address (no display name) with a dotted domain, such as support@example.com.</summary>
    public string? EmailAddress(string name, bool required)
    {
        var value = String(name, required, maxLength: 254);
        if (value is not null && (!MailAddress.TryCreate(value, out var parsed) || parsed.Address != value || !parsed.Host.Contains('.', StringComparison.Ordinal)))
        {
            Error(name, "Must be an e-mail address such as support@example.com.");
        }

        return value;
    }

    public void Error(string name, string message) => errors.Add(PathOf(name), message);

    public void Set(string name, JsonNode? value) => Output[name] = value;
}
