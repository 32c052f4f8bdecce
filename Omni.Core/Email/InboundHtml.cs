namespace Omni.Email;

/// <summary>
/// The HTML of inbound mail (IMAP, POP3, Graph) as it is stored and served to agents' browsers: only what cannot run
/// (<see cref="SignatureSanitizer"/>'s rules: no scripts, event handlers, forms, frames, javascript: URLs; cid: and
/// image data URIs and safe inline styles kept). The sanitizer parses what the sender wrote, so it gets the same
/// bounded prefix as <see cref="MailText.FromHtml"/>; the raw MIME in Blob Storage keeps the original untouched.
/// </summary>
public static class InboundHtml
{
    public static string Sanitize(string html) =>
        SignatureSanitizer.Sanitizer.Sanitize(MailText.Bound(html, MailText.MaxHtmlChars, MailText.MaxTags, MailText.MaxDepth));
}
