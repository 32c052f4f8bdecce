using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Storage;
using System.Diagnostics;
using Omni.Telemetry;

namespace Omni.Email;

/// <summary>
/// The queue side of polling: one message, one mailbox. Finds the channel (gone or deleted: nothing to do), takes
/// one of its company's poll slots (<see cref="MailboxPollSlots"/>) and calls its type's <see cref="IMailboxPoller"/>,
/// which holds the mailbox's lease while it ingests. A poll that finds every slot of its company taken is queued
/// again a little later: not dropped, not a failure. A mail server that cannot be reached is logged and left for
/// the next scheduled poll rather than retried from the queue.
/// </summary>
public sealed partial class MailboxPollRunner(
    IChannelStore channels,
    ChannelKinds kinds,
    MailboxPollSlots slots,
    QueueServiceClient queues,
    ILogger<MailboxPollRunner> logger)
{
    /// <summary>A deferred poll waits 1, 2, 4 … seconds, at most this, plus up to a second of jitter.</summary>
    public static readonly TimeSpan MaxDeferral = TimeSpan.FromSeconds(30);

    private readonly QueueClient _queue = queues.GetQueueClient(MailboxPollScheduler.Queue);

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

        if (await slots.TryTakeAsync(channel.CompanyId, cancellationToken) is not { } slot)
        {
            var delay = Deferral(request.Deferrals);
            await _queue.EnqueueAsync(JsonSerializer.Serialize(request with { Deferrals = request.Deferrals + 1 }, EmailJsonContext.Default.MailboxPollRequest), delay, cancellationToken);
            LogDeferred(channel.Id, channel.CompanyId, delay.TotalSeconds);
            return null;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var holding = slots.HoldAsync(slot, stop.Token);
        try
        {
            return await PollAsync(channel, poller, body, cancellationToken);
        }
        finally
        {
            await stop.CancelAsync();
            if (await holding is { } held)
            {
                await slots.ReleaseAsync(held, CancellationToken.None);
            }
        }
    }

    /// <summary>1, 2, 4 … seconds up to <see cref="MaxDeferral"/>, with jitter so deferred polls do not return together.</summary>
    public static TimeSpan Deferral(int deferrals) =>
        TimeSpan.FromSeconds(Math.Min(Math.Pow(2, Math.Min(deferrals, 10)), MaxDeferral.TotalSeconds) + Random.Shared.NextDouble());

    private async Task<PollResult?> PollAsync(Channel channel, IMailboxPoller poller, string body, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = "failed";
        try
        {
            var result = await poller.PollAsync(channel, cancellationToken);
            outcome = "polled";
            OmniTelemetry.MessagesReceived(channel.Type, "created", result.Ingested);
            OmniTelemetry.MessagesReceived(channel.Type, "duplicate", result.Duplicates);
            OmniTelemetry.MessagesReceived(channel.Type, "quarantined", result.Quarantined);
            OmniTelemetry.MailboxPolled(channel.Type, outcome, Stopwatch.GetElapsedTime(started), result.Ingested);
            LogPolled(channel.Id, result.Ingested, result.Duplicates, result.Quarantined);
            if (result.RetryAfter is { } after)
            {
                // More mail than one poll takes: carry on soon instead of waiting a whole interval.
                await _queue.EnqueueAsync(body, after, cancellationToken);
            }

            return result;
        }
        catch (MailConnectionException ex)
        {
            outcome = "server_failed";
            LogServerFailed(channel.Id, ex.Failure.Kind, ex.Failure.Message);
            return null;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or MailKit.ProtocolException or MailKit.CommandException)
        {
            // The server dropped or refused mid-poll; what was stored is kept, the rest comes with the next poll.
            outcome = "server_failed";
            LogServerFailed(channel.Id, MailFailureKind.Protocol, ex.GetType().Name);
            return null;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // The channel's password cannot be decrypted with this app's key (another environment's row, a key
            // rotated without re-saving): retrying cannot help, and the channel's owner must save it again.
            outcome = "unreadable_secret";
            LogUnreadableSecret(channel.Id);
            return null;
        }
        catch (MailboxLeaseLostException)
        {
            outcome = "lease_lost";
            LogLeaseLost(channel.Id);
            return null;
        }
        finally
        {
            if (outcome != "polled")
            {
                OmniTelemetry.MailboxPolled(channel.Type, outcome, Stopwatch.GetElapsedTime(started), 0);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Polled channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Mailbox poll of channel {ChannelId} deferred {Seconds:F1} s: every poll slot of company {CompanyId} is taken")]
    private partial void LogDeferred(string channelId, string companyId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a mailbox poll message that is not a poll request")]
    private partial void LogBadRequest();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox poll of channel {ChannelId} could not use its server ({Kind}): {Reason}")]
    private partial void LogServerFailed(string channelId, MailFailureKind kind, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Mailbox poll of channel {ChannelId}: its stored password cannot be decrypted with Omni__SecretsKey; save the channel's settings again")]
    private partial void LogUnreadableSecret(string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mailbox poll of channel {ChannelId} lost its lease to another poller and stopped")]
    private partial void LogLeaseLost(string channelId);
}
