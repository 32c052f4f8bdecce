using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.MercadoLivre;

/// <summary>
/// A question that reached the agents and then changed on Mercado Livre (answered there or by another tool, deleted,
/// closed, banned, put under review) adds a note to its conversation: an inbound message of type
/// <c>question_status</c> under the external id <c>question:{id}:{status}</c>, so Mercado Livre's retries and the
/// missed-feeds recovery never add it twice. An answer Omni sent itself is no news and adds nothing.
/// </summary>
internal sealed partial class MercadoLivreQuestionNotes(IConversationStore store, ILogger<MercadoLivreQuestionNotes> logger)
{
    public const string NoteType = "question_status";
    public const string Unanswered = "UNANSWERED";
    public const string Answered = "ANSWERED";

    /// <summary>Notes the question's status in its conversation; false when the question never reached the agents (nothing to note).</summary>
    public async Task<bool> NoteAsync(Channel channel, string questionId, string status, string itemId, string buyerId, string? answer, CancellationToken cancellationToken = default)
    {
        if (await store.FindInboundAsync(channel.CompanyId, channel.Id, MercadoLivreThreads.QuestionExternalId(questionId), cancellationToken) is not { } asked)
        {
            return false;
        }

        if (await store.GetConversationAsync(channel.CompanyId, asked.ConversationId, cancellationToken) is not { Status: ConversationStatus.Open })
        {
            // Agents closed it: a note would open a new conversation about a question nobody is working on.
            LogClosed(questionId, status, channel.Id);
            return true;
        }

        var history = await MercadoLivreQuestionHistory.ReadAsync(store, channel.CompanyId, asked.ConversationId, cancellationToken);
        if ((status == Answered && history.AnsweredByOmni(questionId, answer))
            || (status == Unanswered && history.NotedStatus(questionId) is null or Unanswered))
        {
            return true;
        }

        var text = status == Answered && answer is { Length: > 0 } ? answer : $"Mercado Livre question {questionId} {Describe(status)}.";
        var stored = await store.AppendInboundAsync(new InboundMessage(channel.CompanyId, channel.Id, $"{MercadoLivreThreads.QuestionExternalId(questionId)}:{status}",
            new ContactInfo(MercadoLivreThreads.QuestionContact(itemId, buyerId)), text,
            Metadata: new Dictionary<string, string> { ["type"] = NoteType, ["questionId"] = questionId, ["status"] = status, ["itemId"] = itemId },
            ConversationKeys: [MercadoLivreThreads.QuestionKey(itemId, buyerId)]), cancellationToken);
        if (stored.Outcome == AppendOutcome.Created)
        {
            LogNoted(questionId, status, stored.Message.Id, channel.Id);
        }

        return true;
    }

    /// <summary>What a question's status means for the agents.</summary>
    public static string Describe(string status) => status switch
    {
        Answered => "was answered on Mercado Livre, outside Omni",
        "DELETED" => "was deleted on Mercado Livre (DELETED)",
        "CLOSED_UNANSWERED" => "was closed on Mercado Livre without an answer (CLOSED_UNANSWERED: the item was closed or paused)",
        "BANNED" => "was removed by Mercado Livre's moderation (BANNED)",
        "UNDER_REVIEW" => "is under review by Mercado Livre (UNDER_REVIEW) and takes no answer until the review ends",
        Unanswered => "is open again on Mercado Livre (UNANSWERED)",
        _ => $"is {status} on Mercado Livre",
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre question {QuestionId} is {Status}: noted as message {MessageId} on channel {ChannelId}")]
    private partial void LogNoted(string questionId, string status, string messageId, string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre question {QuestionId} is {Status} but its conversation on channel {ChannelId} is closed: not noted")]
    private partial void LogClosed(string questionId, string status, string channelId);
}
