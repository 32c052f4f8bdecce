using System.Text.Json.Nodes;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.MercadoLivre;

/// <summary>
/// Sends agents' replies on a <c>mercadolivre</c> channel: on a question conversation, the answer to its oldest
/// question not answered yet (<c>POST {api}/answers</c>, at most 2,000 characters); on a pack conversation, a post-sale
/// message to the buyer (<c>POST {api}/messages/packs/{packId}/sellers/{sellerId}?tag=post_sale</c>, at most 350).
/// Longer texts are refused before they are stored (the agent's 422). The sender claims each message before calling,
/// and a send a crash interrupted is checked against the question before it is answered again.
/// </summary>
internal sealed class MercadoLivreOutboundTransport(MercadoLivreApi api, MercadoLivreTokens tokens, IConversationStore store, MercadoLivreAttachments files) : IOutboundTransport
{
    public const int AnswerCharacters = 2000;
    public const int PostSaleCharacters = 350;

    public string ChannelType => ChannelTypes.MercadoLivre;

    public SendRefusal? CheckSend(Channel channel, Conversation conversation, string? text, bool hasAttachments)
    {
        if (MercadoLivreThreads.Parse(conversation.ExternalId) is not { } thread)
        {
            return new SendRefusal("Not a Mercado Livre conversation", "This conversation is neither a buyer's question nor a pack's messages, so Mercado Livre has nowhere to take a reply.");
        }

        if (hasAttachments && thread.IsQuestion)
        {
            return new SendRefusal("Mercado Livre answers are text only", "Mercado Livre's answers to questions take no files (files go only in post-sale messages); send the text alone.");
        }

        var (limit, what) = thread.IsQuestion ? (AnswerCharacters, "answers to questions") : (PostSaleCharacters, "post-sale messages");
        return text?.Length > limit
            ? new SendRefusal("Text too long for Mercado Livre", $"Mercado Livre {what} are at most {limit:N0} characters; this text has {text.Length:N0}.")
            : null;
    }

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        if (CheckSend(channel, conversation, message.Text, message.Attachments.Count > 0) is { } refused)
        {
            return new SendResult(SendOutcome.Permanent, refused.Detail);
        }

        var token = await tokens.GetAsync(channel, cancellationToken);
        if (token.AccessToken is not { } accessToken)
        {
            return token.Reconnect
                ? new SendResult(SendOutcome.Permanent, token.Problem)
                : new SendResult(SendOutcome.Transient, token.Problem, RetryAfter: token.RetryAfter);
        }

        var thread = MercadoLivreThreads.Parse(conversation.ExternalId)!;
        try
        {
            if (thread.IsQuestion)
            {
                var history = await MercadoLivreQuestionHistory.ReadAsync(store, conversation.CompanyId, conversation.Id, cancellationToken);
                if (history.Pending is not { } questionId)
                {
                    return new SendResult(SendOutcome.Permanent, history.WhyNonePending());
                }

                await api.PostJsonAsync("answers", new JsonObject { ["question_id"] = Number(questionId), ["text"] = message.Text }, accessToken, cancellationToken);
                return new SendResult(SendOutcome.Sent, ProviderMessageId: questionId);
            }

            var seller = channel.GetString("sellerId") ?? "";
            var body = new JsonObject
            {
                ["from"] = new JsonObject { ["user_id"] = Number(seller) },
                ["to"] = new JsonObject { ["user_id"] = Number(thread.BuyerId ?? "") },
                ["text"] = message.Text ?? "",
            };
            if (message.Attachments.Count > 0)
            {
                if (await files.UploadAsync(channel, message, accessToken, cancellationToken) is not { } uploaded)
                {
                    return new SendResult(SendOutcome.Permanent, "An attachment of this message is no longer stored, so it cannot be sent; send the file again.");
                }

                body["attachments"] = new JsonArray([.. uploaded.Select(id => (JsonNode)JsonValue.Create(id))]);
            }

            var sent = await api.PostJsonAsync($"messages/packs/{Uri.EscapeDataString(thread.Id)}/sellers/{Uri.EscapeDataString(seller)}?tag=post_sale", body, accessToken, cancellationToken);
            return new SendResult(SendOutcome.Sent, ProviderMessageId: MercadoLivreApi.Text(sent["id"]));
        }
        catch (MercadoLivreApiException e) when (e.IsTransient)
        {
            return new SendResult(SendOutcome.Transient, $"Mercado Livre answered {(int)e.Status} ({e.Detail}); trying again later.", RetryAfter: e.RetryAfter);
        }
        catch (MercadoLivreApiException e)
        {
            return new SendResult(SendOutcome.Permanent, $"Mercado Livre refused the reply ({(int)e.Status} {e.Error}: {e.Detail}).");
        }
        catch (HttpRequestException e) when (e.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError)
        {
            return new SendResult(SendOutcome.Transient, "Mercado Livre could not be reached.");
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new SendResult(SendOutcome.Unknown, "Mercado Livre's answer was lost: the reply may or may not have reached the buyer. Check on Mercado Livre before sending it again.");
        }
    }

    /// <summary>A question answered before the crash is sent; one still open is answered again; a pack message cannot be told.</summary>
    public async Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        if (MercadoLivreThreads.Parse(conversation.ExternalId) is not { IsQuestion: true }
            || (await MercadoLivreQuestionHistory.ReadAsync(store, conversation.CompanyId, conversation.Id, cancellationToken)).Pending is not { } questionId
            || await tokens.GetAsync(channel, cancellationToken) is not { AccessToken: { } accessToken })
        {
            return new SendResult(SendOutcome.Unknown, InterruptedSend.UnknownError);
        }

        try
        {
            var question = await api.GetAsync($"questions/{Uri.EscapeDataString(questionId)}?api_version=4", accessToken, cancellationToken);
            return MercadoLivreApi.Text(question["status"]) == "ANSWERED" ? new SendResult(SendOutcome.Sent, ProviderMessageId: questionId) : null;
        }
        catch (MercadoLivreApiException e) when (e.IsTransient)
        {
            return new SendResult(SendOutcome.Transient, $"Mercado Livre answered {(int)e.Status}; asking again later.", RetryAfter: e.RetryAfter);
        }
    }

    private static JsonNode Number(string digits) => long.TryParse(digits, out var n) ? JsonValue.Create(n) : JsonValue.Create(digits);
}
