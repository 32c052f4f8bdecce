using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// The WhatsAppExpiry timer function: closes, with reason <c>expired</c>, every WhatsApp conversation whose customer
/// wrote nothing for the channel's <c>expirationMinutes</c>. It reads only the due rows of <see cref="WhatsAppExpiry"/>,
/// so an idle tick is one query; each due row costs a point read of its conversation and its channel. A conversation
/// the customer wrote in since is looked at again when it is due then; a closed or deleted one, or one whose channel
/// is gone, drops its row. The close is the agents' close (its outbox item publishes <c>conversation.closed</c>), made
/// only while the conversation is still idle at the version it closes, so a message arriving meanwhile wins.
/// </summary>
internal sealed partial class WhatsAppExpirySweep(
    WhatsAppExpiry expiry,
    IConversationStore store,
    IChannelStore channels,
    ConversationOutbox outbox,
    OutboxHandOff handOff,
    TimeProvider clock,
    ILogger<WhatsAppExpirySweep> logger)
{
    // A tick does a bounded amount of work; what is left is still due at the next one.
    private const int MaxPerTick = 500;

    /// <summary>Returns how many conversations it closed.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var closed = 0;
        // Many conversations of one channel fall due together; its settings are read once a tick.
        var seen = new Dictionary<(string, string), Channel?>();
        await foreach (var check in expiry.DueAsync(now, MaxPerTick, cancellationToken))
        {
            try
            {
                if (await CheckAsync(check, now, seen, cancellationToken))
                {
                    closed++;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One conversation's failure must not hold up the others; its row stays due for the next tick.
                LogFailed(ex, check.ConversationId, check.CompanyId);
            }
        }

        return closed;
    }

    private async Task<bool> CheckAsync(ExpiryCheck check, DateTimeOffset now, Dictionary<(string, string), Channel?> seen, CancellationToken cancellationToken)
    {
        var conversation = await store.GetConversationAsync(check.CompanyId, check.ConversationId, cancellationToken);
        var channel = conversation is { Status: ConversationStatus.Open } ? await ChannelAsync(check, seen, cancellationToken) : null;
        if (channel is null || WhatsAppExpiry.Expiration(channel) is not { } expiration)
        {
            // Closed (by an agent, or expired already), deleted, or its channel deleted or without expiry: nothing to expire.
            await expiry.DropAsync(check, cancellationToken);
            return false;
        }

        var dueAt = WhatsAppExpiry.DueAt(conversation!, expiration);
        if (dueAt <= now)
        {
            var result = await store.ExpireAsync(check.CompanyId, check.ConversationId, now - expiration, cancellationToken);
            if (result is not { Status: ConversationStatus.Open })
            {
                var expired = result is { CloseReason: ConversationCloseReason.Expired };
                if (expired)
                {
                    // Handed on as an agent's close is; what fails now the outbox sweep hands on.
                    await handOff.TryHandOnAsync(outbox.ForClose(result!.CompanyId, result.Id, result.ClosedAt ?? result.UpdatedAt), cancellationToken);
                    LogExpired(result.Id, result.ChannelId, result.CompanyId, (int)expiration.TotalMinutes);
                }

                await expiry.DropAsync(check, cancellationToken);
                return expired;
            }

            // The customer wrote between the read and the close.
            dueAt = WhatsAppExpiry.DueAt(result, expiration);
        }

        // The customer wrote since the row was written (or the channel's expiration grew): look again when it is due.
        await expiry.RescheduleAsync(check, dueAt, cancellationToken);
        return false;
    }

    private async Task<Channel?> ChannelAsync(ExpiryCheck check, Dictionary<(string, string), Channel?> seen, CancellationToken cancellationToken)
    {
        var key = (check.CompanyId, check.ChannelId);
        if (!seen.TryGetValue(key, out var channel))
        {
            seen[key] = channel = await channels.GetAsync(check.CompanyId, check.ChannelId, cancellationToken: cancellationToken);
        }

        return channel;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Conversation {ConversationId} on channel {ChannelId} (company {CompanyId}) expired: no inbound message for {Minutes} minutes")]
    private partial void LogExpired(string conversationId, string channelId, string companyId, int minutes);

    [LoggerMessage(Level = LogLevel.Error, Message = "WhatsApp expiry could not look at conversation {ConversationId} (company {CompanyId}); it retries at the next tick")]
    private partial void LogFailed(Exception exception, string conversationId, string companyId);
}
