using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Storage;
using Omni.Telemetry;

namespace Omni.Conversations;

/// <summary>The <c>outbound-messages</c> queue: one small message (ids only) per send attempt.</summary>
internal sealed class OutboundQueue(QueueServiceClient queues, IOptions<ConversationOptions> options)
{
    public const string QueueName = "outbound-messages";

    private readonly QueueClient _queue = queues.GetQueueClient(options.Value.OutboundQueueName);

    public async Task EnqueueAsync(OutboundWork work, TimeSpan? delay = null, CancellationToken cancellationToken = default) =>
        await Storage.QueueSendPolicy.EnqueueAsync(_queue, JsonSerializer.Serialize(work, ConversationJsonContext.Default.OutboundWork), delay, cancellationToken);
}

/// <summary>
/// The SendOutbound function: sends one queued message by its channel's transport. Delivery is at least once, so the
/// message is first claimed for this attempt (<see cref="IConversationStore.ClaimSendAsync"/>): a message already sent
/// or failed, or claimed by another worker sending it now, is left alone, and one whose claim outlived a crash is not
/// sent blindly again: its transport says what became of it (<see cref="IOutboundTransport.ResolveInterruptedAsync"/>).
/// A transient failure schedules a new queue message with a growing delay (the invocation itself succeeds: the host's
/// poison queue is kept for bugs), until the attempts run out; an outcome the transport cannot know is failed visibly.
/// </summary>
internal sealed partial class OutboundSender(
    IConversationStore store,
    IChannelStore channels,
    ChannelKinds kinds,
    OutboundQueue queue,
    IOptions<ConversationOptions> options,
    TimeProvider clock,
    ILogger<OutboundSender> logger)
{
    public const string FunctionName = "SendOutbound";

    public async Task HandleAsync(string body, CancellationToken cancellationToken = default)
    {
        var work = JsonSerializer.Deserialize(body, ConversationJsonContext.Default.OutboundWork)
            ?? throw new InvalidOperationException("The outbound queue message is empty.");
        if (await ClaimAsync(work, cancellationToken) is not { Message: { } message } claim)
        {
            return;
        }

        var conversation = await store.GetConversationAsync(work.CompanyId, work.ConversationId, cancellationToken);
        var channel = conversation is null ? null : await channels.GetAsync(work.CompanyId, conversation.ChannelId, includeDeleted: true, cancellationToken);
        if (conversation is null || channel is null || channel.IsDeleted)
        {
            await FailAsync(work, "The channel was deleted before the message could be sent.", cancellationToken);
            return;
        }

        if (conversation.Status == ConversationStatus.Closed && !conversation.IsSendRecord)
        {
            await FailAsync(work, "The conversation was closed before the message could be sent.", cancellationToken);
            return;
        }

        // Keyed by the type: the last registration wins, so a later AddKeyedSingleton replaces a kind's transport.
        var transport = kinds.Part<IOutboundTransport>(channel.Type);
        if (transport is null)
        {
            await FailAsync(work, $"No transport sends messages on channels of type '{channel.Type}'.", cancellationToken);
            return;
        }

        var resolved = claim.TookOver is { } crashed ? await ResolveAsync(transport, channel, conversation, message, work, crashed, cancellationToken) : null;
        var result = resolved ?? await SendAsync(transport, channel, conversation, message, work, cancellationToken);
        await RecordAsync(work, channel.Type, result, sentNow: resolved is null, cancellationToken);
    }

    /// <summary>The claimed message, or null when this worker must leave it alone (a later check is queued if another holds it).</summary>
    private async Task<SendClaim?> ClaimAsync(OutboundWork work, CancellationToken cancellationToken)
    {
        var timeout = options.Value.OutboundClaimTimeout;
        SendClaim claim;
        try
        {
            claim = await store.ClaimSendAsync(work.CompanyId, work.ConversationId, work.MessageId, work.Attempt, timeout, cancellationToken);
        }
        catch (StorageConflictException)
        {
            LogInFlight(work.MessageId, work.Attempt, null);
            await queue.EnqueueAsync(work, timeout, cancellationToken);
            return null;
        }

        switch (claim.Outcome)
        {
            case ClaimOutcome.Finished:
                LogSkipped(work.MessageId, claim.Message?.Status.ToString() ?? "missing");
                return null;

            case ClaimOutcome.InFlight:
                // Its holder finishes it, or crashed: this check comes back once the claim can be judged stale.
                var held = claim.TookOver!;
                LogInFlight(work.MessageId, work.Attempt, held.Attempt);
                var wait = held.ClaimedAt + timeout - clock.GetUtcNow();
                await queue.EnqueueAsync(work, wait > TimeSpan.Zero ? wait + TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(1), cancellationToken);
                return null;

            default:
                return claim;
        }
    }

    private async Task<SendResult?> ResolveAsync(IOutboundTransport transport, Channel channel, Conversation conversation, Message message, OutboundWork work, HeldClaim crashed, CancellationToken cancellationToken)
    {
        LogInterrupted(work.MessageId, crashed.Attempt, channel.Type);
        try
        {
            return await transport.ResolveInterruptedAsync(channel, conversation, message, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogTransportThrew(ex, channel.Type, work.MessageId);
            return new SendResult(SendOutcome.Transient, $"The {channel.Type} transport could not tell whether an interrupted attempt went out ({ex.GetType().Name}).");
        }
    }

    private async Task<SendResult> SendAsync(IOutboundTransport transport, Channel channel, Conversation conversation, Message message, OutboundWork work, CancellationToken cancellationToken)
    {
        try
        {
            return await transport.SendAsync(channel, conversation, message, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // An adapter that throws has not said what to do; retrying (bounded) is the safe reading.
            LogTransportThrew(ex, channel.Type, work.MessageId);
            return new SendResult(SendOutcome.Transient, $"The {channel.Type} transport failed unexpectedly ({ex.GetType().Name}).");
        }
    }

    /// <param name="sentNow">The result is of a send just made (not of a look-up after a crash), so a transient one means it did not go out.</param>
    private async Task RecordAsync(OutboundWork work, string channelType, SendResult result, bool sentNow, CancellationToken cancellationToken)
    {
        OmniTelemetry.MessageSent(channelType, result.Outcome);
        switch (result.Outcome)
        {
            case SendOutcome.Sent:
                await store.SetStatusAsync(work.CompanyId, work.ConversationId, work.MessageId, MessageStatus.Sent, null, result.Mail, result.ProviderMessageId, cancellationToken);
                LogSent(work.MessageId, channelType, work.Attempt);
                break;

            case SendOutcome.Permanent:
                await FailAsync(work, result.Error ?? "The transport refused the message.", cancellationToken);
                break;

            case SendOutcome.Unknown:
                await FailAsync(work, result.Error ?? InterruptedSend.UnknownError, cancellationToken);
                break;

            default:
                var o = options.Value;
                var error = result.Error ?? "The transport failed for a reason that may pass.";
                if (work.Attempt >= o.OutboundMaxAttempts)
                {
                    await FailAsync(work, $"Gave up after {work.Attempt} attempts. Last error: {error}", cancellationToken);
                    break;
                }

                if (sentNow)
                {
                    // The transport said it did not go out: the next attempt may send without suspicion. After a failed
                    // look-up the claim stays, so the next attempt looks again instead of sending.
                    await store.ReleaseSendAsync(work.CompanyId, work.ConversationId, work.MessageId, cancellationToken);
                }

                var delay = Backoff(work.Attempt, result.RetryAfter, o);
                // Record the attempt first: if enqueueing fails, the invocation fails and the host redelivers this one.
                await store.SetStatusAsync(work.CompanyId, work.ConversationId, work.MessageId, MessageStatus.Queued, $"Attempt {work.Attempt} failed: {error}", cancellationToken: cancellationToken);
                await queue.EnqueueAsync(work with { Attempt = work.Attempt + 1 }, delay, cancellationToken);
                LogRetrying(work.MessageId, work.Attempt, delay);
                break;
        }
    }

    /// <summary>Doubling from the configured delay, capped; a transport's Retry-After is honoured within the cap (the queue allows 7 days).</summary>
    internal static TimeSpan Backoff(int attempt, TimeSpan? retryAfter, ConversationOptions o)
    {
        var doubling = o.OutboundRetryDelay * Math.Pow(2, Math.Min(attempt - 1, 20));
        var delay = retryAfter is { } after && after > doubling ? after : doubling;
        return delay > o.OutboundRetryMaxDelay ? o.OutboundRetryMaxDelay : delay;
    }

    private async Task FailAsync(OutboundWork work, string reason, CancellationToken cancellationToken)
    {
        await store.SetStatusAsync(work.CompanyId, work.ConversationId, work.MessageId, MessageStatus.Failed, reason, cancellationToken: cancellationToken);
        LogFailed(work.MessageId, work.Attempt, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbound message {MessageId} sent by {ChannelType} on attempt {Attempt}")]
    private partial void LogSent(string messageId, string channelType, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbound message {MessageId} failed on attempt {Attempt}; retrying in {Delay}")]
    private partial void LogRetrying(string messageId, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbound message {MessageId} failed for good on attempt {Attempt}: {Reason}")]
    private partial void LogFailed(string messageId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbound message {MessageId} skipped: it is {Status}")]
    private partial void LogSkipped(string messageId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbound message {MessageId} (attempt {Attempt}) left alone: attempt {HeldBy} is sending it")]
    private partial void LogInFlight(string messageId, int attempt, int? heldBy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbound message {MessageId} was claimed by attempt {Attempt} that never finished; asking the {ChannelType} transport what became of it")]
    private partial void LogInterrupted(string messageId, int attempt, string channelType);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {ChannelType} transport threw on outbound message {MessageId}")]
    private partial void LogTransportThrew(Exception exception, string channelType, string messageId);
}
