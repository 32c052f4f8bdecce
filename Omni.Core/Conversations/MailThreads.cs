using Azure;
using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Conversations;

/// <summary>
/// What an e-mail reply threads to, kept on the conversation row (<c>MailLastId</c>, <c>MailReferences</c>,
/// <c>MailSubject</c>) each time inbound mail is appended, so a reply reads one row instead of paging the history.
/// Conversations stored before these columns existed are looked up the old way once and the answer kept.
/// </summary>
internal sealed class MailThreads(TableClient table, ConversationReads reads)
{
    private const string LastIdColumn = "MailLastId";
    private const string ReferencesColumn = "MailReferences";
    private const string SubjectColumn = "MailSubject";

    /// <summary>Puts the thread of an appended inbound mail on the conversation row being written with it.</summary>
    public static void Write(TableEntity conversationRow, MailHeaders? mail, string? subject)
    {
        if (mail?.MessageId is { Length: > 0 } messageId)
        {
            conversationRow[LastIdColumn] = messageId;
            // Message-IDs hold no whitespace, so a space joins them; bounded as the message's own References are.
            conversationRow[ReferencesColumn] = string.Join(' ', mail.References.TakeLast(ConversationLimits.MailReferences));
            conversationRow[SubjectColumn] = subject;
        }
    }

    public async Task<MailThread?> GetAsync(string companyId, string conversationId, CancellationToken cancellationToken = default)
    {
        if (await reads.GetConversationEntityAsync(companyId, conversationId, cancellationToken) is not { } row)
        {
            return null;
        }

        if (row.GetString(LastIdColumn) is { } lastId)
        {
            return lastId.Length == 0 ? null : new MailThread(lastId, (row.GetString(ReferencesColumn) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries), row.GetString(SubjectColumn));
        }

        var last = await LastInboundMailAsync(companyId, conversationId, cancellationToken);
        var backfill = new TableEntity(companyId, row.RowKey) { [LastIdColumn] = "" };
        Write(backfill, last?.Mail, last?.Subject);
        try
        {
            // Against the version read first: mail appended meanwhile wrote the newer thread itself.
            await table.UpdateEntityAsync(backfill, row.ETag, TableUpdateMode.Merge, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
        }

        return last?.Mail is { MessageId: { Length: > 0 } id } mail ? new MailThread(id, mail.References, last.Subject) : null;
    }

    private async Task<Message?> LastInboundMailAsync(string companyId, string conversationId, CancellationToken cancellationToken)
    {
        Message? last = null;
        string? token = null;
        do
        {
            var page = await reads.ListMessagesAsync(companyId, conversationId, TablePaging.MaxLimit, token, cancellationToken);
            foreach (var m in page.Items.Where(m => m.Direction == MessageDirection.Inbound && m.Mail?.MessageId is { Length: > 0 }))
            {
                if (last is null || m.CreatedAt >= last.CreatedAt)
                {
                    last = m;
                }
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
        return last;
    }
}
