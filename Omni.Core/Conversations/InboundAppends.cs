using Azure;
using Azure.Data.Tables;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// Stores an inbound message for <see cref="TableConversationStore"/>: one point read to route it (a conversation
/// key, else the contact's open conversation) and one entity-group transaction that writes the message, its audit
/// row, its idempotency row and the conversation's rows together. A crash leaves either all of them or none, and the
/// idempotency row's insert is what makes a concurrent duplicate fail instead of becoming a second message.
/// </summary>
internal sealed class InboundAppends(TableClient table, ConversationReads reads, TimeProvider clock)
{
    // Conversation keys looked up per message; an e-mail's References can list many more, the nearest ones come first.
    private const int MaxKeys = 20;

    public Task<AppendResult> AppendAsync(InboundMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(message.ExternalId);
        ArgumentException.ThrowIfNullOrEmpty(message.Contact.ExternalId);
        var lookupKeys = (message.ConversationKeys ?? []).Where(k => !string.IsNullOrWhiteSpace(k)).Distinct(StringComparer.Ordinal).Take(MaxKeys).ToList();
        var newKeys = lookupKeys.Append(message.Mail?.MessageId).Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => Hash(k!)).Distinct(StringComparer.Ordinal).ToList();
        return StorageRetry.OnConflictAsync(clock, $"storing a message on channel {message.ChannelId}",
            _ => AttemptAsync(message, lookupKeys, newKeys, cancellationToken), cancellationToken);
    }

    private async Task<AppendResult> AttemptAsync(InboundMessage message, List<string> lookupKeys, List<string> newKeys, CancellationToken cancellationToken)
    {
        var company = message.CompanyId;
        var now = clock.GetUtcNow();
        var route = await RouteAsync(company, message.ChannelId, message.Contact.ExternalId, lookupKeys, cancellationToken);
        var conversationId = route.ConversationId ?? NewConversationId(now);
        var stored = new Message(Ids.New("msg"), company, message.ChannelId, conversationId, MessageDirection.Inbound, message.ExternalId,
            ConversationLimits.TruncateBody(message.Text), ConversationLimits.TruncateBody(message.Html), message.Subject, message.Attachments ?? [],
            message.Metadata, message.Mail, MessageStatus.Accepted, null, now);

        var actions = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.Add, new TableEntity(company, Idempotency(message.ChannelId, message.ExternalId))
            {
                ["MessageId"] = stored.Id,
                ["ConversationId"] = conversationId,
                ["BodyHash"] = message.BodyHash,
            }),
            new(TableTransactionActionType.Add, ToEntity(stored, ConversationRows.Message(conversationId, stored.Id))),
            new(TableTransactionActionType.Add, ToEntity(stored, AuditRow(message.ChannelId, stored.Id))),
        };

        if (message.Reserved)
        {
            // Gone means another request committed this key: the batch fails and the duplicate is reported.
            actions.Add(new(TableTransactionActionType.Delete, new TableEntity(company, Pending(message.ChannelId, message.ExternalId)), ETag.All));
        }

        var guardedKey = (string?)null;
        if (route.Row is null)
        {
            var conversation = new Conversation(conversationId, company, message.ChannelId, message.Contact, lookupKeys.FirstOrDefault(),
                message.Subject, ConversationStatus.Open, now, now, null)
            {
                LastInboundAt = now,
                Handler = message.OpensWithBotId is null ? ConversationHandler.Agents : ConversationHandler.Bot,
                BotId = message.OpensWithBotId,
            };
            var row = ToEntity(conversation, now);
            MailThreads.Write(row, message.Mail, message.Subject);
            actions.Add(new(TableTransactionActionType.Add, row));
            // Add, not upsert: two first messages of one contact racing must not open two conversations.
            actions.Add(new(TableTransactionActionType.Add, RoutingRow(company, Open(message.ChannelId, message.Contact.ExternalId), conversationId, now)));
        }
        else
        {
            // Rewriting the routing row with its ETag guards against a close that deleted it meanwhile.
            actions.Add(new(TableTransactionActionType.UpdateMerge, RoutingRow(company, route.Row.RowKey, conversationId, now), route.Row.ETag));
            var row = new TableEntity(company, Conversation(conversationId)) { ["UpdatedAt"] = now, ["LastMessageAt"] = now, ["LastInboundAt"] = now };
            MailThreads.Write(row, message.Mail, message.Subject);
            actions.Add(new(TableTransactionActionType.UpdateMerge, row, ETag.All));
            guardedKey = route.Row.RowKey;
        }

        AddKeys(actions, company, message.ChannelId, conversationId, newKeys, now, except: guardedKey);

        try
        {
            await table.SubmitAsync(actions, cancellationToken);
            return new AppendResult(AppendOutcome.Created, stored) { OpenedConversation = route.Row is null };
        }
        catch (StorageConflictException)
        {
            // Either this key was stored meanwhile (a duplicate), or a routing row changed under us (try again).
            if (await reads.FindExistingAsync(company, message.ChannelId, message.ExternalId, message.BodyHash, cancellationToken) is { } existing)
            {
                return existing;
            }

            throw;
        }
    }

    /// <summary>Where a message goes: the first key that names an open conversation, else the contact's open conversation, else nowhere yet.</summary>
    private async Task<Route> RouteAsync(string companyId, string channelId, string contactExternalId, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        if (keys.Count > 0)
        {
            var found = await Task.WhenAll(keys.Select(k => table.FindAsync(companyId, Key(channelId, Hash(k)), cancellationToken)));
            if (found.FirstOrDefault(r => r is not null) is { } hit)
            {
                return new Route(hit, hit.GetString("ConversationId"));
            }
        }

        return await table.FindAsync(companyId, Open(channelId, contactExternalId), cancellationToken) is { } row
            ? new Route(row, row.GetString("ConversationId"))
            : new Route(null, null);
    }

    /// <summary>The routing row that led to an open conversation (null: open a new one).</summary>
    private sealed record Route(TableEntity? Row, string? ConversationId);
}
