using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;
using Omni.Validation;

namespace Omni.Meta;

/// <summary>An approved template of the WhatsApp Business Account, as Graph lists it.</summary>
public sealed record WhatsAppTemplate(string Name, string Language, string? Category, string Status, JsonArray? Components);

/// <summary>A template to send: its name and language code, and Graph's <c>components</c> (the parameters) as given.</summary>
public sealed record TemplateToSend(string? Name, string? Language, JsonArray? Components);

internal enum TemplateOutcome
{
    /// <summary>Listed, or stored and queued (202).</summary>
    Done,

    /// <summary>No such channel in this company (404).</summary>
    NotFound,

    /// <summary>Not a WhatsApp channel on Meta, without a business account, or with <c>hsm: false</c> (409, <see cref="TemplateResult.Detail"/>).</summary>
    Conflict,

    /// <summary>Bad input (400, <see cref="TemplateResult.Errors"/>).</summary>
    Invalid,

    /// <summary>Meta refused or failed the listing (502, <see cref="TemplateResult.Detail"/>).</summary>
    ProviderFailed,
}

internal sealed record TemplateResult(TemplateOutcome Outcome, IReadOnlyList<WhatsAppTemplate>? Templates = null, Message? Message = null,
    bool OpenedConversation = false, string? Detail = null, Dictionary<string, string[]>? Errors = null);

/// <summary>
/// WhatsApp templates (HSM): the account's approved templates, and a template sent to a number, which WhatsApp allows
/// outside the 24-hour window. A sent template is stored as an outbound message whose metadata holds it, queued as an
/// agent's message is, and <see cref="WhatsAppOutboundTransport"/> sends it. With <c>hsmOpensConversation</c> it goes
/// in the contact's open conversation (opening one); without, in a closed record that routes nothing.
/// </summary>
internal sealed class WhatsAppTemplates(IChannelStore channels, IConversationStore store, MetaGraphClient graph, MetaSends sends, ConversationOutbox outbox, OutboxHandOff handOff, WhatsAppExpiry expiry)
{
    private const string NameKey = "template.name";
    private const string LanguageKey = "template.language";
    private const string ComponentsKey = "template.components";
    private const int MaxPages = 20;
    private const int ComponentsBytes = 16 * 1024;

    public async Task<TemplateResult> ListAsync(string companyId, string channelId, CancellationToken cancellationToken = default)
    {
        if (await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken) is not { } channel)
        {
            return new TemplateResult(TemplateOutcome.NotFound);
        }

        if (Unusable(channel, sending: false) is { } conflict)
        {
            return conflict;
        }

        var templates = new List<WhatsAppTemplate>();
        var account = channel.GetString("businessAccountId");
        var first = $"{account}/message_templates?status=APPROVED&fields=name,language,status,category,components&limit=100";
        string? path = first;
        try
        {
            for (var page = 0; page < MaxPages && path is not null; page++)
            {
                var answer = await graph.GetAsync(path, sends.Token(channel)!, cancellationToken);
                foreach (var t in answer["data"] as JsonArray ?? [])
                {
                    if (t?["status"]?.GetValue<string>() is "APPROVED")
                    {
                        templates.Add(new WhatsAppTemplate(t["name"]!.GetValue<string>(), t["language"]!.GetValue<string>(), t["category"]?.GetValue<string>(),
                            "APPROVED", t["components"]?.DeepClone() as JsonArray));
                    }
                }

                var after = answer["paging"]?["next"] is not null ? answer["paging"]?["cursors"]?["after"]?.GetValue<string>() : null;
                path = after is null ? null : $"{first}&after={Uri.EscapeDataString(after)}";
            }
        }
        catch (MetaApiException e)
        {
            return new TemplateResult(TemplateOutcome.ProviderFailed, Detail: MetaChecks.Explain(e, $"business account {account}", "whatsapp_business_management"));
        }

        return new TemplateResult(TemplateOutcome.Done, templates);
    }

    public async Task<TemplateResult> SendAsync(string companyId, string channelId, string? to, TemplateToSend? template, CancellationToken cancellationToken = default)
    {
        if (await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken) is not { } channel)
        {
            return new TemplateResult(TemplateOutcome.NotFound);
        }

        var errors = new ValidationErrors();
        var number = string.IsNullOrWhiteSpace(to) ? null : WhatsAppSettingsRules.MobileNumber(to);
        if (number is null)
        {
            errors.Add("to", "Required: the contact's mobile number in international form (E.164).");
        }

        if (template?.Name is not { Length: > 0 and <= 512 } name || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            errors.Add("template.name", "Required: the template's name (lowercase letters, digits and underscores).");
        }

        if (template?.Language is not { Length: > 0 and <= 15 })
        {
            errors.Add("template.language", "Required: the template's language code, such as pt_BR.");
        }

        var components = template?.Components?.ToJsonString() ?? "";
        if (System.Text.Encoding.UTF8.GetByteCount(components) > ComponentsBytes)
        {
            errors.Add("template.components", $"At most {ComponentsBytes} bytes of JSON.");
        }

        if (!errors.IsValid)
        {
            return new TemplateResult(TemplateOutcome.Invalid, Errors: errors.ToDictionary());
        }

        if (Unusable(channel, sending: true) is { } conflict)
        {
            return conflict;
        }

        var metadata = new Dictionary<string, string> { [NameKey] = template!.Name!, [LanguageKey] = template.Language! };
        if (components.Length > 0)
        {
            metadata[ComponentsKey] = components;
        }

        // Keyed as the inbound side keys who WhatsApp names as the sender of a reply, so the reply joins this contact.
        var contact = new ContactInfo(WhatsAppContacts.Key(number!), Phone: number);
        var opens = channel.Settings["hsmOpensConversation"] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        var message = await store.AppendToContactAsync(companyId, channelId, contact, null, metadata, opens, cancellationToken);
        await handOff.TryHandOnAsync(outbox.ForMessage(message), cancellationToken);
        if (opens)
        {
            await expiry.OpenedAsync(channel, message, cancellationToken);
        }

        return new TemplateResult(TemplateOutcome.Done, Message: message, OpenedConversation: opens);
    }

    /// <summary>The Graph <c>template</c> object of a stored template message, or null when the message is not one.</summary>
    public static JsonObject? Of(Message message)
    {
        if (message.Metadata is not { } m || !m.TryGetValue(NameKey, out var name) || !m.TryGetValue(LanguageKey, out var language))
        {
            return null;
        }

        var template = new JsonObject { ["name"] = name, ["language"] = new JsonObject { ["code"] = language } };
        if (m.TryGetValue(ComponentsKey, out var components))
        {
            template["components"] = JsonNode.Parse(components);
        }

        return template;
    }

    /// <summary>Why this channel cannot list (<paramref name="sending"/> false: it needs the business account) or send templates, or null.</summary>
    private TemplateResult? Unusable(Channel channel, bool sending) =>
        channel.Type != ChannelTypes.WhatsApp || channel.GetString("provider") != "meta" ? Conflict("Templates are sent on WhatsApp channels on Meta's Cloud API (provider \"meta\") only.")
        : !sending && channel.GetString("businessAccountId") is null ? Conflict("The channel has no businessAccountId: templates belong to the WhatsApp Business Account; save it in the channel's settings.")
        : sending && !(channel.Settings["hsm"] is JsonValue v && v.TryGetValue<bool>(out var hsm) && hsm) ? Conflict("The channel does not send templates (hsm is false); turn hsm on in its settings.")
        : sends.Token(channel) is null ? Conflict("The channel has no access token; save its settings with accessToken.")
        : null;

    private static TemplateResult Conflict(string detail) => new(TemplateOutcome.Conflict, Detail: detail);
}
