using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;

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
/// The SendOutbound function: sends one queued message by its channel's transport. Delivery is at least once, so a
/// message already sent or failed is left alone. A transient failure schedules a new queue message with a growing
/// delay (the invocation itself succeeds: the host's poison queue is kept for bugs), until the attempts run out.
/// </summary>
internal sealed partial class OutboundSender(
    IConversationStore store,
    IChannelStore channels,
    ChannelKinds kinds,
    OutboundQueue queue,
    IOptions<ConversationOptions> options,
    ILogger<OutboundSender> logger)
{
    public const string FunctionName = "SendOutbound";

    public async Task HandleAsync(string body, CancellationToken cancellationToken = default)
    {
        var work = JsonSerializer.Deserialize(body, ConversationJsonContext.Default.OutboundWork)
            ?? throw new InvalidOperationException("The outbound queue message is empty.");
        var message = await store.GetMessageAsync(work.CompanyId, work.ConversationId, work.MessageId, cancellationToken);
        if (message is null || message.Direction != MessageDirection.Outbound || message.Status is MessageStatus.Sent or MessageStatus.Failed)
        {
            LogSkipped(work.MessageId, message?.Status.ToString() ?? "missing");
            return;
        }

        var conversation = await store.GetConversationAsync(work.CompanyId, work.ConversationId, cancellationToken);
        var channel = conversation is null ? null : await channels.GetAsync(work.CompanyId, conversation.ChannelId, includeDeleted: true, cancellationToken);
        if (conversation is null || channel is null || channel.IsDeleted)
        {
            await FailAsync(work, "The channel was deleted before the message could be sent.", cancellationToken);
            return;
        }

        if (conversation.Status == ConversationStatus.Closed)
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

        SendResult result;
        try
        {
            result = await transport.SendAsync(channel, conversation, message, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // An adapter that throws has not said what to do; retrying (bounded) is the safe reading.
            LogTransportThrew(ex, channel.Type, work.MessageId);
            result = new SendResult(SendOutcome.Transient, $"The {channel.Type} transport failed unexpectedly ({ex.GetType().Name}).");
        }

        switch (result.Outcome)
        {
            case SendOutcome.Sent:
                await store.SetStatusAsync(work.CompanyId, work.ConversationId, work.MessageId, MessageStatus.Sent, null, result.Mail, cancellationToken);
                LogSent(work.MessageId, channel.Type, work.Attempt);
                break;

            case SendOutcome.Permanent:
                await FailAsync(work, result.Error ?? "The transport refused the message.", cancellationToken);
                break;

            default:
                var o = options.Value;
                var error = result.Error ?? "The transport failed for a reason that may pass.";
                if (work.Attempt >= o.OutboundMaxAttempts)
                {
                    await FailAsync(work, $"Gave up after {work.Attempt} attempts. Last error: {error}", cancellationToken);
                    break;
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

    [LoggerMessage(Level = LogLevel.Error, Message = "The {ChannelType} transport threw on outbound message {MessageId}")]
    private partial void LogTransportThrew(Exception exception, string channelType, string messageId);
}
