using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;
using Omni.Telemetry;

namespace Omni.MercadoLivre;

/// <summary>
/// Reads what a notification points at and stores it as inbound messages under Mercado Livre's own ids
/// (<c>question:{id}</c>, <c>message:{id}</c>), so a notification processed twice adds nothing twice. Moderation and
/// blocked-conversation statuses are kept in the message's metadata, not dropped.
/// </summary>
internal sealed partial class MercadoLivreInbound(MercadoLivreApi api, IConversationStore store, MercadoLivreQuestionNotes notes, MercadoLivreAttachments files, ILogger<MercadoLivreInbound> logger)
{
    private static readonly string[] UnansweredStatuses = ["UNANSWERED", "UNDER_REVIEW"];

    /// <summary><c>GET {api}/questions/{id}?api_version=4</c>; an unanswered question becomes a message in its item and buyer's conversation.</summary>
    public async Task QuestionAsync(Channel channel, string token, string resource, CancellationToken cancellationToken = default)
    {
        var questionId = resource.TrimEnd('/').Split('/')[^1];
        JsonNode question;
        try
        {
            question = await api.GetAsync($"questions/{Uri.EscapeDataString(questionId)}?api_version=4", token, cancellationToken);
        }
        catch (MercadoLivreApiException e) when (e.Status == System.Net.HttpStatusCode.NotFound)
        {
            LogGone("question", questionId, channel.Id);
            return;
        }

        var status = MercadoLivreApi.Text(question["status"]) ?? "unknown";
        if (MercadoLivreApi.Text(question["item_id"]) is not { } item || MercadoLivreApi.Text(question["from"]?["id"]) is not { } buyer
            || MercadoLivreApi.Text(question["text"]) is not { } text)
        {
            LogSkipped(questionId, status, channel.Id);
            return;
        }

        // A question the agents have: what changed on Mercado Livre becomes a note in its conversation.
        if (status != MercadoLivreQuestionNotes.Unanswered
            && await notes.NoteAsync(channel, questionId, status, item, buyer, MercadoLivreApi.Text(question["answer"]?["text"]), cancellationToken))
        {
            return;
        }

        if (!UnansweredStatuses.Contains(status))
        {
            // Answered, closed or deleted before the agents saw it: not asked of them.
            LogSkipped(questionId, status, channel.Id);
            return;
        }

        var metadata = new Dictionary<string, string> { ["type"] = "question", ["questionId"] = questionId, ["itemId"] = item, ["status"] = status };
        await AddItemAsync(item, token, metadata, cancellationToken);
        var stored = await store.AppendInboundAsync(new InboundMessage(channel.CompanyId, channel.Id, MercadoLivreThreads.QuestionExternalId(questionId),
            new ContactInfo(MercadoLivreThreads.QuestionContact(item, buyer), MercadoLivreApi.Text(question["from"]?["nickname"])), text,
            Metadata: metadata, ConversationKeys: [MercadoLivreThreads.QuestionKey(item, buyer)]), cancellationToken);
        Log(stored, channel, "question");
        if (stored.Outcome != AppendOutcome.Created && status == MercadoLivreQuestionNotes.Unanswered)
        {
            // Asked before: open again after a review is news only when a note said otherwise.
            await notes.NoteAsync(channel, questionId, status, item, buyer, null, cancellationToken);
        }
    }

    /// <summary>
    /// The pack a <c>messages</c> notification names, then every buyer message of it not stored before, with its files.
    /// False when one must be tried again later (its files could not be read now, or another copy is storing it).
    /// </summary>
    public async Task<bool> MessagesAsync(Channel channel, string token, string resource, bool lastAttempt, CancellationToken cancellationToken = default)
    {
        var seller = channel.GetString("sellerId") ?? "";
        if (await PackOfAsync(resource, token, cancellationToken) is not { } pack)
        {
            LogGone("message", resource, channel.Id);
            return true;
        }

        var thread = await api.GetAsync($"messages/packs/{Uri.EscapeDataString(pack)}/sellers/{Uri.EscapeDataString(seller)}?tag=post_sale&mark_as_read=false", token, cancellationToken);
        var conversationStatus = MercadoLivreApi.Text(thread["conversation_status"]?["status"]);
        var done = true;
        foreach (var message in thread["messages"] as JsonArray ?? [])
        {
            if (MercadoLivreApi.Text(message?["id"]) is not { } id || MercadoLivreApi.Text(message?["from"]?["user_id"]) is not { } from || from == seller)
            {
                continue;
            }

            var metadata = new Dictionary<string, string> { ["type"] = "post_sale", ["packId"] = pack, ["messageId"] = id };
            Put(metadata, "status", message!["status"]);
            Put(metadata, "moderationStatus", message["message_moderation"]?["status"]);
            Put(metadata, "moderationReason", message["message_moderation"]?["reason"]);
            Put(metadata, "conversationStatus", conversationStatus is null ? null : JsonValue.Create(conversationStatus));
            var inbound = new InboundMessage(channel.CompanyId, channel.Id, $"message:{id}",
                new ContactInfo(MercadoLivreThreads.PackContact(pack, from)), MercadoLivreApi.Text(message["text"]) ?? "",
                Metadata: metadata, ConversationKeys: [MercadoLivreThreads.PackKey(pack, from)]);
            if (message["message_attachments"] is JsonArray { Count: > 0 } attached)
            {
                metadata["attachments"] = string.Join(", ", attached.Select(f => MercadoLivreApi.Text(f?["original_filename"]) ?? MercadoLivreApi.Text(f?["filename"]) ?? "file"));
                done &= await WithFilesAsync(channel, token, inbound, attached, MercadoLivreApi.Text(message["site_id"]), lastAttempt, cancellationToken);
                continue;
            }

            Log(await store.AppendInboundAsync(inbound, cancellationToken), channel, "post-sale message");
        }

        return done;
    }

    /// <summary>Its id reserved first, so a concurrent copy of the notification waits instead of downloading the files again.</summary>
    private async Task<bool> WithFilesAsync(Channel channel, string token, InboundMessage inbound, JsonArray attached, string? siteId, bool lastAttempt, CancellationToken cancellationToken)
    {
        var reservation = await store.ReserveAsync(channel.CompanyId, channel.Id, inbound.ExternalId, null, cancellationToken);
        if (reservation.Outcome != ReservationOutcome.Reserved)
        {
            return reservation.Outcome == ReservationOutcome.Completed;
        }

        try
        {
            var fetched = await files.DownloadAsync(channel, token, attached, siteId, lastAttempt, cancellationToken);
            if (fetched.TryLater)
            {
                await store.ReleaseAsync(channel.CompanyId, channel.Id, inbound.ExternalId, CancellationToken.None);
                return false;
            }

            var metadata = new Dictionary<string, string>(inbound.Metadata!);
            if (fetched.Problems.Count > 0)
            {
                metadata["attachmentError"] = string.Join(" ", fetched.Problems);
            }

            Log(await store.AppendInboundAsync(inbound with { Attachments = fetched.Stored, Metadata = metadata, Reserved = true }, cancellationToken), channel, "post-sale message");
            return true;
        }
        catch
        {
            // Not stored: free the id now rather than making the retry wait out the in-flight timeout.
            await store.ReleaseAsync(channel.CompanyId, channel.Id, inbound.ExternalId, CancellationToken.None);
            throw;
        }
    }

    /// <summary>A resource naming the pack (<c>/packs/{id}/…</c>) as it is, else the message read for its pack.</summary>
    private async Task<string?> PackOfAsync(string resource, string token, CancellationToken cancellationToken)
    {
        if (PackInPath().Match(resource) is { Success: true } match)
        {
            return match.Groups[1].Value;
        }

        try
        {
            var message = await api.GetAsync($"messages/{Uri.EscapeDataString(resource.TrimEnd('/').Split('/')[^1])}?tag=post_sale", token, cancellationToken);
            var found = message["messages"] is JsonArray { Count: > 0 } list ? list[0] : message;
            return (found?["message_resources"] as JsonArray ?? []).FirstOrDefault(r => MercadoLivreApi.Text(r?["name"]) == "packs") is { } pack
                ? MercadoLivreApi.Text(pack["id"])
                : null;
        }
        catch (MercadoLivreApiException e) when (e.Status == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The item's title and link for the agents; a question is stored without them when the item cannot be read.</summary>
    private async Task AddItemAsync(string item, string token, Dictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        try
        {
            var found = await api.GetAsync($"items/{Uri.EscapeDataString(item)}?attributes=id,title,permalink", token, cancellationToken);
            Put(metadata, "itemTitle", found["title"]);
            Put(metadata, "itemPermalink", found["permalink"]);
        }
        catch (MercadoLivreApiException e) when (!e.IsTransient)
        {
            LogGone("item", item, "-");
        }
    }

    private static void Put(Dictionary<string, string> metadata, string key, JsonNode? value)
    {
        if (MercadoLivreApi.Text(value) is { Length: > 0 } text)
        {
            metadata[key] = text.Length > 2000 ? text[..2000] : text;
        }
    }

    private void Log(AppendResult result, Channel channel, string what)
    {
        OmniTelemetry.MessageReceived(channel.Type, result.Outcome);
        if (result.Outcome == AppendOutcome.Created)
        {
            LogStored(what, result.Message.Id, result.Message.ConversationId, channel.Id);
        }
    }

    [GeneratedRegex(@"/packs/(\d+)")]
    private static partial Regex PackInPath();

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre {What} stored as message {MessageId} in conversation {ConversationId} on channel {ChannelId}")]
    private partial void LogStored(string what, string messageId, string conversationId, string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre question {QuestionId} is {Status} on channel {ChannelId}: not asked of the agents")]
    private partial void LogSkipped(string questionId, string status, string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre {What} {Id} is gone (channel {ChannelId}): nothing to store")]
    private partial void LogGone(string what, string id, string channelId);
}
