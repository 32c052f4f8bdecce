using Omni.Conversations;
using Omni.Storage;

namespace Omni.Webchat;

/// <summary>An attachment of the visitor's thread: what the widget shows, and the path the session token downloads it from.</summary>
public sealed record VisitorAttachment(string FileName, string ContentType, long Size, string Url);

/// <summary>An attachment's bytes, for the visitor whose conversation holds it.</summary>
internal sealed record VisitorDownload(string FileName, string ContentType, BinaryData Content);

/// <summary>
/// The visitor's side of attachments: each one of a message the visitor may see has a download path under the
/// session routes, and only that visitor's session (its contact, on its channel) can read it.
/// </summary>
internal sealed class WebchatAttachments(IConversationStore conversations, AttachmentStore attachments)
{
    public static string PathOf(string conversationId, string messageId, int index) =>
        $"/api/webchat/sessions/attachments/{Uri.EscapeDataString(conversationId)}/{Uri.EscapeDataString(messageId)}/{index}";

    public static IReadOnlyList<VisitorAttachment> Of(Message message) =>
        message.Attachments.Select((a, i) => new VisitorAttachment(a.FileName, a.ContentType, a.Size, PathOf(message.ConversationId, message.Id, i))).ToList();

    /// <summary>The attachment's bytes; null (404) unless the message is in the session's own conversation and visible to the visitor.</summary>
    public async Task<VisitorDownload?> DownloadAsync(WebchatSession session, string conversationId, string messageId, int index, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(conversationId) || !Ids.LooksValid(messageId)
            || await conversations.GetConversationAsync(session.CompanyId, conversationId, cancellationToken) is not { } conversation
            || conversation.ChannelId != session.ChannelId || conversation.Contact.ExternalId != session.ContactExternalId
            || await conversations.GetMessageAsync(session.CompanyId, conversationId, messageId, cancellationToken) is not { } message
            || !WebchatVisitors.Visible(message) || index < 0 || index >= message.Attachments.Count)
        {
            return null;
        }

        var attachment = message.Attachments[index];
        return await attachments.DownloadAsync(attachment, cancellationToken) is { } content
            ? new VisitorDownload(attachment.FileName, attachment.ContentType, content)
            : null;
    }
}
