using Omni.Conversations;
using Omni.Storage;

namespace Omni.MercadoLivre;

/// <summary>
/// What a question conversation's own history says about its questions: which were asked, which Omni answered, and
/// the last status Mercado Livre reported for the others (the status notes <see cref="MercadoLivreQuestionNotes"/>
/// adds). Read from the conversation's messages, which the transport lists anyway: no call to Mercado Livre.
/// </summary>
internal sealed class MercadoLivreQuestionHistory
{
    private readonly List<string> _asked = [];
    private readonly HashSet<string> _answeredByOmni = new(StringComparer.Ordinal);
    private readonly HashSet<string> _outboundTexts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _status = new(StringComparer.Ordinal);

    public static async Task<MercadoLivreQuestionHistory> ReadAsync(IConversationStore store, string companyId, string conversationId, CancellationToken cancellationToken = default)
    {
        var history = new MercadoLivreQuestionHistory();
        string? continuation = null;
        do
        {
            var page = await store.ListMessagesAsync(companyId, conversationId, TablePaging.MaxLimit, continuation, cancellationToken);
            foreach (var m in page.Items)
            {
                history.Add(m);
            }

            continuation = page.ContinuationToken;
        }
        while (continuation is not null);

        return history;
    }

    /// <summary>The oldest question that Omni did not answer and Mercado Livre still takes an answer to.</summary>
    public string? Pending => _asked.FirstOrDefault(q => !_answeredByOmni.Contains(q) && Answerable(q));

    /// <summary>Why no question takes a reply: the oldest one answered or closed on Mercado Livre, in words to show.</summary>
    public string WhyNonePending() =>
        _asked.FirstOrDefault(q => !_answeredByOmni.Contains(q)) is { } closed && _status.TryGetValue(closed, out var status)
            ? $"Mercado Livre question {closed} {MercadoLivreQuestionNotes.Describe(status)}, so it takes no answer from Omni; the reply was not sent."
            : "Every question of this conversation is answered already; Mercado Livre takes one answer per question.";

    /// <summary>The answer is one Omni sent (its reply recorded as the question's, or the text of a reply on the way).</summary>
    public bool AnsweredByOmni(string questionId, string? answer) =>
        _answeredByOmni.Contains(questionId) || (answer is not null && _outboundTexts.Contains(answer.Trim()));

    /// <summary>The last status a note recorded for the question, or null when none did.</summary>
    public string? NotedStatus(string questionId) => _status.GetValueOrDefault(questionId);

    private bool Answerable(string questionId) => _status.GetValueOrDefault(questionId) is null or MercadoLivreQuestionNotes.Unanswered;

    private void Add(Message m)
    {
        if (m.Direction == MessageDirection.Inbound && m.Metadata is { } metadata && metadata.GetValueOrDefault("questionId") is { } questionId)
        {
            if (metadata.GetValueOrDefault("type") == MercadoLivreQuestionNotes.NoteType)
            {
                // Oldest first, so the last note of a question is its current status.
                _status[questionId] = metadata.GetValueOrDefault("status") ?? "";
            }
            else
            {
                _asked.Add(questionId);
            }
        }
        else if (m.Direction == MessageDirection.Outbound && m.Status != MessageStatus.Failed)
        {
            if (m.Status == MessageStatus.Sent && m.ProviderMessageId is { } answered)
            {
                _answeredByOmni.Add(answered);
            }
            else if (m.Text is { Length: > 0 } text)
            {
                // A reply still being sent: Mercado Livre may report its answer before Omni records it as sent.
                _outboundTexts.Add(text.Trim());
            }
        }
    }
}
