using System.Text.Json.Nodes;
using Omni.Validation;

namespace Omni.Channels;

/// <summary>
/// A secret that only works with the settings it was given for: a password belongs to a server and account, a
/// token to a page or number. When one of <see cref="Fields"/> changes, keeping the stored secret would send it to
/// the new place, so it must be given again.
/// </summary>
/// <param name="Secret">The secret field, as in <c>settings</c>.</param>
/// <param name="Fields">The settings it is bound to, as dotted paths inside <c>settings</c> (<c>incoming.host</c>).</param>
/// <param name="What">What changing them means, for the message: "the mail server or account changed".</param>
internal sealed record SecretBinding(string Secret, IReadOnlyList<string> Fields, string What);

/// <summary>
/// One channel kind's settings: how they are checked and which of them are write-only. Each kind keeps its rules
/// in its own folder; <see cref="ChannelSettingsValidator"/> runs them with the shared checks around.
/// </summary>
internal interface IChannelSettingsRules
{
    /// <summary>Reads and checks <c>settings</c>, naming every bad field; secrets are read with <see cref="ChannelSettingsInput.Secret"/>.</summary>
    void Check(ChannelSettingsInput input);

    /// <summary>The write-only fields a channel of this kind keeps (given its shown settings); a response says <c>&lt;field&gt;Set</c>.</summary>
    IReadOnlyList<string> SecretFields(JsonObject settings);

    /// <summary>Which secrets must be given again when which settings change.</summary>
    IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => [];

    /// <summary>Secrets the kind makes itself for a new channel; the create response shows them once.</summary>
    IReadOnlyDictionary<string, string> SecretsMadeOnCreate() => new Dictionary<string, string>();

    /// <summary>
    /// After <see cref="Check"/> passed: checks what the settings name in the company's other features (a WhatsApp
    /// channel's <c>botId</c>), adding errors by the field's path.
    /// </summary>
    Task CheckReferencesAsync(string companyId, JsonObject settings, ValidationErrors errors, CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <summary>Adds what a response shows of this kind beyond its settings (state kept outside them).</summary>
    void Show(Channel channel, JsonObject shown)
    {
    }
}

/// <summary>What a kind's rules read: the settings sent, and the stored channel on an update.</summary>
internal sealed class ChannelSettingsInput(SettingsReader settings, Channel? existing, ValidationErrors errors)
{
    private readonly Dictionary<string, string> _secrets = new(StringComparer.Ordinal);

    public SettingsReader Settings => settings;

    public IReadOnlyDictionary<string, string> Secrets => _secrets;

    /// <summary>A write-only field: taken out of the shown settings; left out, it keeps the stored value, so it is required only when there is none.</summary>
    public void Secret(string name, int maxLength = 4096)
    {
        var value = settings.String(name, required: false, maxLength, copy: false);
        if (value is not null)
        {
            _secrets[name] = value;
        }
        else if (existing?.ProtectedSecrets.ContainsKey(name) != true)
        {
            errors.Add($"settings.{name}", "Required.");
        }
    }
}
