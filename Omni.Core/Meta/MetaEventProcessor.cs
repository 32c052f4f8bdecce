using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;

namespace Omni.Meta;

/// <summary>
/// The MetaEvent queue function: processes one stored event by its channel's kind. Every message in it is stored under
/// Meta's own id, so a queue message delivered twice, or processed again after a crash halfway, adds nothing twice.
/// Media Meta will not hand over right now sends the event back to the queue with a growing delay (the invocation
/// succeeds); a queue message that is not ours throws, so it ends visibly in the poison queue.
/// </summary>
internal sealed partial class MetaEventProcessor(
    MetaEventStore events,
    IChannelStore channels,
    WhatsAppEvents whatsapp,
    InstagramEvents instagram,
    IOptions<MetaInboundOptions> options,
    ILogger<MetaEventProcessor> logger)
{
    public async Task HandleAsync(string queueMessage, CancellationToken cancellationToken = default)
    {
        var work = MetaEventStore.ParseWork(queueMessage)
            ?? throw new InvalidOperationException("The meta-events queue holds a message that is not a Meta event reference.");
        if (await events.ReadAsync(work.Blob, cancellationToken) is not { } bytes)
        {
            LogEventGone(work.Blob);
            return;
        }

        if (await channels.GetAsync(work.CompanyId, work.ChannelId, cancellationToken: cancellationToken) is not { } channel)
        {
            LogChannelGone(work.ChannelId, work.Blob);
            return;
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(bytes.ToMemory().Span);
        }
        catch (JsonException)
        {
            root = null;
        }

        if (root is not JsonObject)
        {
            // Signed by Meta, so not an attack; kept in its blob for a person to look at.
            LogUnreadable(channel.Id, work.Blob);
            return;
        }

        var lastAttempt = work.Attempt >= options.Value.MediaAttempts;
        var done = channel.Type == ChannelTypes.Instagram
            ? await instagram.ProcessAsync(channel, root, lastAttempt, cancellationToken)
            : await whatsapp.ProcessAsync(channel, root, lastAttempt, cancellationToken);
        if (!done)
        {
            var delay = options.Value.RetryDelay * Math.Pow(2, Math.Min(work.Attempt - 1, 10));
            LogRetry(channel.Id, work.Blob, work.Attempt + 1, delay);
            await events.EnqueueAsync(work with { Attempt = work.Attempt + 1 }, delay, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Meta event {Blob} is gone from Blob Storage: nothing to process")]
    private partial void LogEventGone(string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Meta event {Blob} arrived for channel {ChannelId}, deleted since: not processed")]
    private partial void LogChannelGone(string channelId, string blob);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Meta event {Blob} on channel {ChannelId} is not a JSON object: kept, not processed")]
    private partial void LogUnreadable(string channelId, string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Meta event {Blob} on channel {ChannelId} has media to fetch again: attempt {Attempt} in {Delay}")]
    private partial void LogRetry(string channelId, string blob, int attempt, TimeSpan delay);
}
