using System.Text;
using Omni.Validation;

namespace Omni.Conversations;

/// <summary>
/// What one message row can hold (an entity is 1 MiB at most, a binary property 64 KiB), in one place: the API's
/// validation refuses what is over, and the row mapping cuts what arrives by other ways (e-mail) to the same caps.
/// </summary>
internal static class ConversationLimits
{
    /// <summary>Text and HTML each, as UTF-8; kept as binary chunks (see <see cref="ConversationRows"/>).</summary>
    public const int BodyBytes = 256 * 1024;

    /// <summary>The text an API caller may send, in characters (<see cref="BodyBytes"/> applies too).</summary>
    public const int TextCharacters = 100_000;

    /// <summary>Metadata is one binary property; with both bodies at their cap the entity stays under 1 MiB.</summary>
    public const int MetadataBytes = 60 * 1024;

    /// <summary>An attachment's content type; parameters could otherwise grow the stored attachment list past one property.</summary>
    public const int ContentTypeCharacters = 200;

    /// <summary>A long thread's References would outgrow a property; the newest ids are the ones replies carry.</summary>
    public const int MailReferences = 50;

    /// <summary>Refuses a text the row could not keep whole.</summary>
    public static void CheckText(string field, string? text, ValidationErrors errors)
    {
        if (text is not null && (text.Length > TextCharacters || Encoding.UTF8.GetByteCount(text) > BodyBytes))
        {
            errors.Add(field, $"At most {TextCharacters} characters.");
        }
    }

    /// <summary>Whether metadata fits its property, measured as the row stores it.</summary>
    public static bool MetadataFits(IReadOnlyDictionary<string, string> metadata) => ConversationRows.MetadataBytes(metadata).Length <= MetadataBytes;

    /// <summary>Cuts at <see cref="BodyBytes"/> on a character boundary; callers that must keep everything validate first or keep the original elsewhere (raw MIME).</summary>
    public static string? TruncateBody(string? value)
    {
        if (value is null || Encoding.UTF8.GetMaxByteCount(value.Length) <= BodyBytes)
        {
            return value;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length <= BodyBytes)
        {
            return value;
        }

        var end = BodyBytes;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80)
        {
            end--;
        }

        return Encoding.UTF8.GetString(bytes, 0, end);
    }
}
