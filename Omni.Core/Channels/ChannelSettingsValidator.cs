using System.Text.Json.Nodes;
using Omni.Validation;

namespace Omni.Channels;

/// <summary>What a channel's settings become once checked: the part that may be shown, and the secrets sent in this request.</summary>
public sealed record ValidatedSettings(JsonObject Public, IReadOnlyDictionary<string, string> Secrets);

/// <summary>
/// Runs a kind's settings rules with the checks every kind shares: the type must be a registered one, secret
/// fields are taken out of the shown settings, and a stored secret bound to settings that changed must be given
/// again rather than kept for the new server or account.
/// </summary>
internal sealed class ChannelSettingsValidator(ChannelKinds kinds)
{
    /// <summary>True when <paramref name="type"/> is a registered kind; otherwise names the field <c>type</c>.</summary>
    public bool CheckType(string? type, ValidationErrors errors)
    {
        if (kinds.IsKnown(type))
        {
            return true;
        }

        errors.Add("type", $"Must be one of: {string.Join(", ", kinds.Types)}.");
        return false;
    }

    public ValidatedSettings Validate(string type, JsonObject? settings, Channel? existing, ValidationErrors errors)
    {
        if (settings is null)
        {
            errors.Add("settings", "Required.");
            return new ValidatedSettings([], new Dictionary<string, string>());
        }

        var rules = kinds.Settings(type);
        var input = new ChannelSettingsInput(new SettingsReader(settings, "settings", errors), existing, errors);
        rules.Check(input);
        var shown = input.Settings.Output;
        if (existing is not null)
        {
            RequireRebound(rules.Bindings(shown), shown, input.Secrets, existing, errors);
        }

        return new ValidatedSettings(shown, input.Secrets);
    }

    /// <summary>A channel's settings as a response shows them: each secret field only as <c>&lt;field&gt;Set</c>.</summary>
    public JsonObject Shown(Channel channel)
    {
        var shown = channel.Settings.DeepClone().AsObject();
        if (!kinds.IsKnown(channel.Type))
        {
            return shown;
        }

        var rules = kinds.Settings(channel.Type);
        foreach (var field in rules.SecretFields(channel.Settings))
        {
            shown[field + "Set"] = channel.ProtectedSecrets.ContainsKey(field);
        }

        rules.Show(channel, shown);
        return shown;
    }

    // A secret left out is kept only while what it was given for stays the same: a new host would otherwise be
    // sent the old password at the next poll.
    private static void RequireRebound(IReadOnlyList<SecretBinding> bindings, JsonObject shown, IReadOnlyDictionary<string, string> given, Channel existing, ValidationErrors errors)
    {
        foreach (var binding in bindings)
        {
            if (given.ContainsKey(binding.Secret) || !existing.ProtectedSecrets.ContainsKey(binding.Secret))
            {
                continue;
            }

            var changed = binding.Fields.Where(f => !JsonNode.DeepEquals(At(shown, f), At(existing.Settings, f))).Select(f => $"settings.{f}").ToList();
            if (changed.Count > 0)
            {
                errors.Add($"settings.{binding.Secret}", $"Must be given again because {binding.What} ({string.Join(", ", changed)}).");
            }
        }
    }

    private static JsonNode? At(JsonObject settings, string path)
    {
        JsonNode? node = settings;
        foreach (var name in path.Split('.'))
        {
            node = node is JsonObject o ? o[name] : null;
        }

        return node;
    }
}
