using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Omni.Validation;

namespace Omni.Conversations;

/// <summary>A receive_hook request as the integrator sent it, not yet checked.</summary>
internal sealed record HookMessage(
    string? ExternalId,
    HookContact? Contact,
    string? ConversationExternalId,
    string? Text,
    IReadOnlyList<AttachmentUpload?>? Attachments,
    JsonObject? Metadata);

internal sealed record HookContact(string? ExternalId, string? Name, string? Email, string? Phone);

/// <summary>A receive_hook request that passed <see cref="ReceiveHookValidation"/>: trimmed, decoded, and fingerprinted for idempotency.</summary>
internal sealed record CheckedHookMessage(
    string ExternalId,
    ContactInfo Contact,
    string? ConversationExternalId,
    string? Text,
    IReadOnlyList<DecodedAttachment> Attachments,
    IReadOnlyDictionary<string, string>? Metadata,
    string BodyHash);

/// <summary>What a receive_hook request must be; field names in the errors are the JSON paths the integrator sent.</summary>
internal static class ReceiveHookValidation
{
    public const int MaxMetadataEntries = 50;

    /// <summary>Null when <paramref name="errors"/> holds why; <paramref name="tooLarge"/> says an attachment was over its size (413 rather than 400).</summary>
    public static CheckedHookMessage? Check(HookMessage request, ValidationErrors errors, out bool tooLarge)
    {
        var externalId = errors.Required("externalId", request.ExternalId, maxLength: 200);
        var contact = CheckContact(request.Contact, errors);
        var conversationExternalId = Optional("conversationExternalId", request.ConversationExternalId, 200, errors);
        var attachments = AttachmentRules.Validate(request.Attachments, errors, out tooLarge);
        if (string.IsNullOrWhiteSpace(request.Text) && (request.Attachments is null || request.Attachments.Count == 0))
        {
            errors.Add("text", "Required unless there are attachments.");
        }

        ConversationLimits.CheckText("text", request.Text, errors);
        var metadata = CheckMetadata(request.Metadata, errors);
        return errors.IsValid
            ? new CheckedHookMessage(externalId!, contact!, conversationExternalId, request.Text, attachments, metadata,
                BodyHash(externalId!, contact!, conversationExternalId, request.Text, attachments, metadata))
            : null;
    }

    private static ContactInfo? CheckContact(HookContact? contact, ValidationErrors errors)
    {
        if (contact is null)
        {
            errors.Add("contact", "Required: at least {\"externalId\": \"...\"}.");
            return null;
        }

        var externalId = errors.Required("contact.externalId", contact.ExternalId, maxLength: 200);
        var name = Optional("contact.name", contact.Name, 200, errors);
        var email = Optional("contact.email", contact.Email, 254, errors);
        if (email is not null && !System.Net.Mail.MailAddress.TryCreate(email, out _))
        {
            errors.Add("contact.email", "Not an e-mail address.");
        }

        var phone = Optional("contact.phone", contact.Phone, 32, errors);
        return externalId is null ? null : new ContactInfo(externalId, name, email, phone);
    }

    private static string? Optional(string field, string? value, int maxLength, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        if (value.Length > maxLength)
        {
            errors.Add(field, $"At most {maxLength} characters.");
            return null;
        }

        return value;
    }

    /// <summary>Flat string values; numbers and booleans are kept as their JSON text, so {"orderId": 123} works too.</summary>
    private static Dictionary<string, string>? CheckMetadata(JsonObject? metadata, ValidationErrors errors)
    {
        if (metadata is null)
        {
            return null;
        }

        if (metadata.Count > MaxMetadataEntries)
        {
            errors.Add("metadata", $"At most {MaxMetadataEntries} entries.");
            return null;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, node) in metadata)
        {
            if (key.Length is 0 or > 100)
            {
                errors.Add("metadata", "Keys must have 1 to 100 characters.");
                continue;
            }

            if (node is null)
            {
                continue;
            }

            string? value = node.GetValueKind() switch
            {
                JsonValueKind.String => node.GetValue<string>(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => node.ToJsonString(),
                _ => null,
            };
            if (value is null)
            {
                errors.Add($"metadata.{key}", "Must be a string, number or boolean.");
            }
            else if (value.Length > 1000)
            {
                errors.Add($"metadata.{key}", "At most 1000 characters.");
            }
            else
            {
                result[key] = value;
            }
        }

        // Entries within their limits can still add up past what one stored property holds.
        if (errors.IsValid && !ConversationLimits.MetadataFits(result))
        {
            errors.Add("metadata", $"At most {ConversationLimits.MetadataBytes / 1024} KiB in total as UTF-8 JSON.");
            return null;
        }

        return result;
    }

    /// <summary>A fingerprint of what the request means, not of its bytes: key order and whitespace do not make a different body.</summary>
    private static string BodyHash(string externalId, ContactInfo contact, string? conversationExternalId, string? text, IReadOnlyList<DecodedAttachment> attachments, Dictionary<string, string>? metadata)
    {
        var canonical = new JsonObject
        {
            ["externalId"] = externalId,
            ["contact"] = new JsonObject { ["externalId"] = contact.ExternalId, ["name"] = contact.Name, ["email"] = contact.Email, ["phone"] = contact.Phone },
            ["conversationExternalId"] = conversationExternalId,
            ["text"] = text,
            ["attachments"] = new JsonArray(attachments.Select(a => (JsonNode)new JsonObject
            {
                ["fileName"] = a.FileName,
                ["contentType"] = a.ContentType,
                ["sha256"] = Convert.ToHexString(SHA256.HashData(a.Content)),
            }).ToArray()),
            ["metadata"] = metadata is null ? null : new JsonObject(metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
        };
        return Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToJsonString())));
    }
}
