using System.Net.Sockets;
using Azure;
using MailKit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;

namespace Omni.Email;

/// <summary>One message's ingest: its outcome, or the fault that kept it from being stored this time.</summary>
public sealed record IngestAttempt(IngestOutcome? Outcome, Exception? Fault);

/// <summary>
/// Keeps one bad message from stopping its mailbox for good. Each message is tried on its own; a message that fails
/// (its server refuses to send it, it cannot be parsed or stored) is counted in the mailbox's state row under its
/// provider id and tried again by the next poll, while the mail behind it goes on. Once it has failed
/// <see cref="EmailOptions.MaxMessageFailures"/> polls it is quarantined as <see cref="Unreadable"/> (left on the
/// server, flagged where the protocol can) and the cursor passes it. The server's connection dropping, storage
/// being down, a lost lease or cancellation are not the message's fault: they stop the poll and count nothing.
/// </summary>
public sealed partial class MailFaults(MailQuarantine quarantine, IOptions<EmailOptions> options, ILogger<MailFaults> logger)
{
    public const string Unreadable = "unreadable";

    // Ids of messages that failed and then vanished (deleted, read elsewhere) would otherwise stay in the row for ever.
    private const int MaxTracked = 50;

    /// <summary>Whether <paramref name="exception"/> is the message's own failure rather than the poll's.</summary>
    public static bool IsMessageFault(Exception exception) => exception switch
    {
        OperationCanceledException or MailboxLeaseLostException or MailConnectionException => false,
        IOException or SocketException or TimeoutException or HttpRequestException => false,
        ServiceNotConnectedException or ServiceNotAuthenticatedException or ProtocolException => false,
        RequestFailedException { Status: 0 or 408 or 429 or >= 500 } => false,
        Omni.Storage.StorageConflictException => false,
        _ => true,
    };

    /// <summary>
    /// Counts a failure of <paramref name="providerId"/>. Returns the state to save with the cursor, and whether the
    /// message has now failed too often and was quarantined: then the caller treats it as done (flags it, moves past it).
    /// </summary>
    public async Task<(MailboxState State, bool Quarantined)> FailedAsync(Channel channel, MailboxState state, string providerId, Exception fault, CancellationToken cancellationToken = default)
    {
        var failures = new Dictionary<string, int>(state.Failures ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        var count = failures.GetValueOrDefault(providerId) + 1;
        var max = options.Value.MaxMessageFailures;
        // The exception's type only: its message may quote the mail.
        LogFailed(channel.Id, providerId, fault.GetType().Name, count, max);
        if (count >= max)
        {
            await quarantine.RecordAsync(channel, MailQuarantine.IdOf(channel, providerId), Unreadable, 0, "", providerId, null, null, cancellationToken);
            LogQuarantined(channel.Id, providerId, count);
            failures.Remove(providerId);
            return (state with { Failures = failures }, true);
        }

        failures[providerId] = count;
        foreach (var stale in failures.Keys.Where(k => k != providerId).Take(Math.Max(0, failures.Count - MaxTracked)).ToList())
        {
            failures.Remove(stale);
        }

        return (state with { Failures = failures }, false);
    }

    /// <summary>
    /// Counts one message's attempt in the state: stored (its failure count dropped) or failed (counted, and quarantined
    /// once it failed too often). Returns the outcome to acknowledge on the server, or null: the message failed and is
    /// left for the next poll, so the poller must not move past it.
    /// </summary>
    public async Task<(MailboxState State, IngestOutcome? Outcome)> SettleAsync(Channel channel, MailboxState state, string providerId, IngestAttempt attempt, CancellationToken cancellationToken = default)
    {
        if (attempt.Fault is { } fault)
        {
            (state, var given) = await FailedAsync(channel, state, providerId, fault, cancellationToken);
            return (state, given ? IngestOutcome.Quarantined : null);
        }

        return (Succeeded(state, providerId), attempt.Outcome);
    }

    /// <summary>The state without a failure count for <paramref name="providerId"/>, once it was stored after all.</summary>
    public static MailboxState Succeeded(MailboxState state, string providerId) =>
        state.Failures?.ContainsKey(providerId) == true ? state with { Failures = state.Failures.Where(f => f.Key != providerId).ToDictionary() } : state;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mail {ProviderId} on channel {ChannelId} failed ({Fault}), {Count} of {Max} polls; the mail behind it goes on")]
    private partial void LogFailed(string channelId, string providerId, string fault, int count, int max);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mail {ProviderId} on channel {ChannelId} failed {Count} polls and was quarantined (unreadable); the mailbox moves past it")]
    private partial void LogQuarantined(string channelId, string providerId, int count);
}
