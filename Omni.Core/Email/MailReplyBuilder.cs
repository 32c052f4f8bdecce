using System.Net;
using MimeKit;
using Omni.Conversations;

namespace Omni.Email;

/// <summary>Who a mail channel sends as, and the signature it appends (already sanitized when saved; sanitized again here).</summary>
public sealed record MailIdentity(string Address, string? DisplayName, string? SignatureHtml);

/// <summary>A reply ready to send, and the headers to record on the message so later replies thread to it.</summary>
public sealed record MailReply(MimeMessage Message, MailHeaders Headers);

/// <summary>
/// Builds an agent's reply in the customer's thread, for any mail channel type (SMTP here, Graph for
/// <c>microsoft-email</c>): In-Reply-To = the last inbound Message-ID, References = its References plus it (both kept on the conversation row),
/// "Re:" once, From = the channel, To = the contact, text and HTML bodies with the signature appended exactly as
/// the preview shows it. The Message-ID is derived from the message id, so a retried send carries the same one.
/// </summary>
internal sealed class MailReplyBuilder(IConversationStore conversations, AttachmentStore attachments)
{
    public async Task<MailReply> BuildAsync(MailIdentity identity, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        var thread = await conversations.GetMailThreadAsync(conversation.CompanyId, conversation.Id, cancellationToken);
        var mime = new MimeMessage();
        mime.From.Add(new MailboxAddress(identity.DisplayName ?? "", identity.Address));
        var to = conversation.Contact.Email ?? conversation.Contact.ExternalId;
        mime.To.Add(new MailboxAddress(conversation.Contact.Name ?? "", to));
        mime.Subject = ReplySubject(conversation.Subject ?? thread?.Subject);
        mime.Date = message.CreatedAt;
        mime.MessageId = MessageIdOf(message, identity.Address);
        var references = new List<string>();
        if (thread is not null)
        {
            mime.InReplyTo = thread.MessageId;
            references.AddRange(thread.References);
            references.Add(thread.MessageId);
            foreach (var r in references.Distinct())
            {
                mime.References.Add(r);
            }
        }

        var signature = SignatureSanitizer.Sanitize(identity.SignatureHtml ?? "");
        var bodyHtml = message.Html is { Length: > 0 } html ? SignatureSanitizer.SanitizeBody(html) : TextToHtml(message.Text ?? "");
        var builder = new BodyBuilder
        {
            TextBody = (message.Text ?? (message.Html is { } h ? MailText.FromHtml(h) : "")) + (signature.Length > 0 ? "\n\n-- \n" + MailText.FromHtml(signature) : ""),
            HtmlBody = $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><div>{bodyHtml}</div>"
                + (signature.Length > 0 ? $"<br><div class=\"omni-signature\">{signature}</div>" : "") + "</body></html>",
        };
        foreach (var attachment in message.Attachments)
        {
            // A file gone from storage is left out rather than blocking the reply.
            if (await attachments.DownloadAsync(attachment, cancellationToken) is { } content)
            {
                builder.Attachments.Add(attachment.FileName, content.ToArray(), ContentType.Parse(attachment.ContentType));
            }
        }

        mime.Body = builder.ToMessageBody();
        var headers = new MailHeaders(mime.MessageId, mime.InReplyTo, references.Distinct().ToList(), identity.Address, [to], null);
        return new MailReply(mime, headers);
    }

    /// <summary>The Message-ID a reply is sent with: derived from the message id, so a retry (or a look-up after a crash) names the same mail.</summary>
    public static string MessageIdOf(Message message, string fromAddress) => $"{message.Id}@{fromAddress[(fromAddress.LastIndexOf('@') + 1)..]}";

    /// <summary>"Re: " + subject, unless it already starts with a reply prefix.</summary>
    public static string ReplySubject(string? subject)
    {
        var s = (subject ?? "").Trim();
        return s.StartsWith("re:", StringComparison.OrdinalIgnoreCase) ? s : s.Length == 0 ? "Re:" : "Re: " + s;
    }

    private static string TextToHtml(string text) => WebUtility.HtmlEncode(text).Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "<br>", StringComparison.Ordinal);
}
