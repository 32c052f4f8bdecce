using Azure.Data.Tables;
using Omni.Storage;
using static Omni.Conversations.ConversationRows;

namespace Omni.Conversations;

/// <summary>
/// Hand-offs and returns for <see cref="TableConversationStore"/>: the conversation row's handler columns are merged
/// against the version read, and only while the routing version is the one the caller decided on, so two hand-offs
/// racing end as one and a close that came first keeps the conversation closed.
/// </summary>
internal sealed class ConversationRoutes(TableClient table, ConversationReads reads, TimeProvider clock)
{
    public Task<Conversation?> RouteAsync(string companyId, string conversationId, int expectedVersion, ConversationRouting routing, CancellationToken cancellationToken = default) =>
        StorageRetry.OnConflictAsync(clock, $"routing conversation {conversationId}", async _ =>
        {
            if (await reads.GetConversationEntityAsync(companyId, conversationId, cancellationToken) is not { } entity)
            {
                return null;
            }

            var conversation = ToConversation(entity);
            if (conversation.Status != ConversationStatus.Open || conversation.RoutingVersion != expectedVersion)
            {
                return conversation;
            }

            var now = clock.GetUtcNow();
            // An inbound message merged meanwhile changes the ETag, not the routing: the retry finds the same version.
            await table.SubmitAsync([new TableTransactionAction(TableTransactionActionType.UpdateMerge,
                RoutingColumns(companyId, conversationId, routing, expectedVersion + 1, now), entity.ETag)], cancellationToken);
            return conversation with
            {
                Handler = routing.Handler, BotId = routing.BotId, ServiceId = routing.ServiceId, RoutingVersion = expectedVersion + 1, UpdatedAt = now,
            };
        }, cancellationToken);
}
