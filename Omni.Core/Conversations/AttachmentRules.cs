using Omni.Validation;

namespace Omni.Conversations;

/// <summary>An attachment as a client sent it in JSON, not yet checked: the bytes base64-encoded.</summary>
internal sealed record AttachmentUpload(string? FileName, string? ContentType, string? ContentBase64);

/// <summary>An attachment that passed <see cref="AttachmentRules"/>, ready to upload.</summary>
internal sealed record DecodedAttachment(string FileName, string ContentType, byte[] Content);

/// <summary>What an attachment sent as JSON may be: few, small, of a type an agent can safely open.</summary>
internal static class AttachmentRules
{
    public const int MaxCount = 10;
    public const int MaxBytes = 512 * 1024;

    // Types a browser or mail client will not run: no HTML, SVG or executables.
    private static readonly string[] AllowedPrefixes = ["image/", "audio/", "video/", "application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument."];

    private static readonly HashSet<string> AllowedTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "application/pdf", "text/plain", "text/csv", "application/json", "application/xml", "application/zip",
        "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/octet-stream",
    };

    public static string AllowedDescription =>
        "image/*, audio/*, video/*, application/pdf, text/plain, text/csv, application/json, application/xml, application/zip, application/octet-stream and office documents";

    public static bool IsAllowedType(string contentType) =>
        !contentType.Equals("image/svg+xml", StringComparison.OrdinalIgnoreCase)
        && (AllowedTypes.Contains(contentType) || AllowedPrefixes.Any(p => contentType.StartsWith(p, StringComparison.OrdinalIgnoreCase) && contentType.Length > p.Length));

    /// <summary>Decodes and checks every attachment; <paramref name="tooLarge"/> says a size rule failed (413 rather than 400).</summary>
    public static List<DecodedAttachment> Validate(IReadOnlyList<AttachmentUpload?>? attachments, ValidationErrors errors, out bool tooLarge)
    {
        tooLarge = false;
        var result = new List<DecodedAttachment>();
        if (attachments is null)
        {
            return result;
        }

        if (attachments.Count > MaxCount)
        {
            errors.Add("attachments", $"At most {MaxCount} attachments.");
            return result;
        }

        for (var i = 0; i < attachments.Count; i++)
        {
            var field = $"attachments[{i}]";
            if (attachments[i] is not { } a)
            {
                errors.Add(field, "Must be an object with fileName, contentType and contentBase64.");
                continue;
            }

            var fileName = a.FileName?.Trim();
            if (string.IsNullOrEmpty(fileName))
            {
                errors.Add($"{field}.fileName", "Required.");
            }
            else if (fileName.Length > 255 || fileName.Any(c => char.IsControl(c) || c is '/' or '\\'))
            {
                errors.Add($"{field}.fileName", "At most 255 characters, without path separators or control characters.");
            }

            var contentType = a.ContentType?.Trim().ToLowerInvariant();
            if (string.IsNullOrEmpty(contentType))
            {
                errors.Add($"{field}.contentType", "Required.");
            }
            else if (contentType.Length > ConversationLimits.ContentTypeCharacters)
            {
                errors.Add($"{field}.contentType", $"At most {ConversationLimits.ContentTypeCharacters} characters.");
            }
            else if (!System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var parsed) || parsed.MediaType is null || !IsAllowedType(parsed.MediaType))
            {
                errors.Add($"{field}.contentType", $"Not an accepted type. Accepted: {AllowedDescription}.");
            }

            byte[]? content = null;
            if (string.IsNullOrEmpty(a.ContentBase64))
            {
                errors.Add($"{field}.contentBase64", "Required: the file's bytes, base64-encoded.");
            }
            else if (a.ContentBase64.Length > (MaxBytes + 2) / 3 * 4 + 4)
            {
                errors.Add($"{field}.contentBase64", $"At most {MaxBytes / 1024} KiB per attachment (decoded).");
                tooLarge = true;
            }
            else
            {
                content = new byte[a.ContentBase64.Length / 4 * 3 + 3];
                if (Convert.TryFromBase64String(a.ContentBase64, content, out var written))
                {
                    content = content[..written];
                    if (written > MaxBytes)
                    {
                        errors.Add($"{field}.contentBase64", $"At most {MaxBytes / 1024} KiB per attachment (decoded).");
                        tooLarge = true;
                    }
                    else if (written == 0)
                    {
                        errors.Add($"{field}.contentBase64", "The file is empty.");
                    }
                }
                else
                {
                    errors.Add($"{field}.contentBase64", "Not valid base64.");
                    content = null;
                }
            }

            if (errors.IsValid && content is not null)
            {
                result.Add(new DecodedAttachment(fileName!, contentType!, content));
            }
        }

        return result;
    }
}
