using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Email;

/// <summary>
/// The queue side of polling: one message, one mailbox. Finds the channel (gone or deleted: nothing to do) and
/// calls its type's <see cref="IMailboxPoller"/>, which holds the mailbox's lease while it ingests. A mail server
/// that cannot be reached is logged and left for the next scheduled poll rather than retried from the queue.
/// </summary>
public sealed partial class MailboxPollRunner(
    IChannelStore channels,
    ChannelKinds kinds,
    QueueServiceClient queues,
    ILogger<MailboxPollRunner> logger)
{
    public async Task<PollResult?> RunAsync(string body, CancellationToken cancellationToken = default)
    {
        MailboxPollRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(body, EmailJsonContext.Default.MailboxPollRequest);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request is not { CompanyId.Length: > 0, ChannelId.Length: > 0 })
        {
            LogBadRequest();
            return null;
        }

        var channel = await channels.GetAsync(request.CompanyId, request.ChannelId, cancellationToken: cancellationToken);
        var poller = channel is null ? null : kinds.Part<IMailboxPoller>(channel.Type);
        if (channel is null || poller is null)
        {
            return null;
        }

        try
        {
            var result = await poller.PollAsync(channel, cancellationToken);
            LogPolled(channel.Id, result.Ingested, result.Duplicates, result.Quarantined);
            if (result.RetryAfter is { } after)
            {
                // More mail than one poll takes: carry on soon instead of waiting a whole interval.
                await queues.GetQueueClient(MailboxPollScheduler.Queue).EnqueueAsync(body, after, cancellationToken);
            }

            return result;
        }
        catch (MailConnectionException ex)
        {
            LogServerFailed(channel.Id, ex.Failure.Kind, ex.Failure.Message);
            return null;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or MailKit.ProtocolException or MailKit.CommandException)
        {
            // The server dropped or refused mid-poll; what was stored is kept, the rest comes with the next poll.
            LogServerFailed(channel.Id, MailFailureKind.Protocol, ex.GetType().Name);
            return null;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // The channel's password cannot be decrypted with this app's key (another environment's row, a key
            // rotated without re-saving): retrying cannot help, and the channel's owner must save it again.
            LogUnreadableSecret(channel.Id);
            return null;
        }
        catch (MailboxLeaseLostException)
        {
            LogLeaseLost(channel.Id);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Polled channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a mailbox poll message that is not a poll request")]
    private partial void LogBadRequest();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox poll of channel {ChannelId} could not use its server ({Kind}): {Reason}")]
    private partial void LogServerFailed(string channelId, MailFailureKind kind, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Mailbox poll of channel {ChannelId}: its stored password cannot be decrypted with Omni__SecretsKey; save the channel's settings again")]
    private partial void LogUnreadableSecret(string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox poll of channel {ChannelId} lost its lease to another poller and stopped")]
    private partial void LogLeaseLost(string channelId);
}
