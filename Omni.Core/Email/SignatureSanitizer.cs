using Ganss.Xss;

namespace Omni.Email;

/// <summary>
/// E-mail signatures keep what a person formats (bold, italic, alignment, sizes, colours, links, images) and lose
/// everything that could run: scripts, event handlers, forms, frames, javascript: URLs. Applied when the signature
/// is saved, so the preview shows exactly what is sent. The same rules clean agents' HTML bodies and inbound mail's
/// (<see cref="InboundHtml"/>).
/// </summary>
public static class SignatureSanitizer
{
    // A signature is sanitized on every reply: its parse cost is bounded like an inbound mail's (see MailText),
    // far below what any real signature needs, so a deeply nested one cannot make each send slow.
    public const int MaxTags = 2_000;
    public const int MaxDepth = 64;

    internal static readonly HtmlSanitizer Sanitizer = Create();

    public static string Sanitize(string html) => Sanitizer.Sanitize(MailText.Bound(html, EmailSettingsRules.MaxSignatureLength, MaxTags, MaxDepth));

    /// <summary>The same rules for an agent's HTML body, which is not cut: the API bounds what an agent may send.</summary>
    public static string SanitizeBody(string html) => Sanitizer.Sanitize(html);

    private static HtmlSanitizer Create()
    {
        var sanitizer = new HtmlSanitizer();
        sanitizer.AllowedSchemes.Add("mailto");
        sanitizer.AllowedSchemes.Add("tel");
        sanitizer.AllowedSchemes.Add("cid");
        foreach (var tag in (string[])["form", "input", "button", "textarea", "select"])
        {
            sanitizer.AllowedTags.Remove(tag);
        }

        foreach (var attribute in (string[])["align", "bgcolor", "color", "size", "face"])
        {
            sanitizer.AllowedAttributes.Add(attribute);
        }
        // Inline images are common in signatures; only image data URIs are let through, never data:text/html.
        sanitizer.FilterUrl += (_, e) =>
        {
            if (e.OriginalUrl.StartsWith("data:image/", StringComparison.OrdinalIgnoreCase) && !e.OriginalUrl.StartsWith("data:image/svg", StringComparison.OrdinalIgnoreCase))
            {
                e.SanitizedUrl = e.OriginalUrl;
            }
        };
        return sanitizer;
    }
}
