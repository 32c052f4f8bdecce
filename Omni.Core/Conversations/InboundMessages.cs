using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Validation;
using Omni.Telemetry;

namespace Omni.Conversations;

/// <summary>What became of a receive_hook request.</summary>
internal enum ReceiveOutcome
{
    /// <summary>Stored now (202).</summary>
    Accepted,

    /// <summary>Stored before with the same body: <see cref="ReceiveResult.Message"/> is the first one (200).</summary>
    Duplicate,

    /// <summary>The externalId was stored before with a different body (422).</summary>
    Mismatch,

    /// <summary>Another request with this externalId is still uploading its attachments (409, retry shortly).</summary>
    InFlight,

    /// <summary>Not a valid request: <see cref="ReceiveResult.Errors"/> says why (400).</summary>
    Invalid,

    /// <summary>An attachment is over its size; <see cref="ReceiveResult.Errors"/> says which (413).</summary>
    TooLarge,

    /// <summary>The API key outlived its channel (401).</summary>
    ChannelDeleted,

    /// <summary>The key's channel is not an omni channel (403).</summary>
    NotOmniChannel,
}

internal sealed record ReceiveResult(ReceiveOutcome Outcome, Message? Message = null, Dictionary<string, string[]>? Errors = null);

/// <summary>
/// receive_hook: an integrator's message for an omni channel, checked, stored once per externalId in the conversation
/// it belongs to, with its attachments in Blob Storage. A request with attachments reserves its externalId before
/// uploading, so a concurrent retry waits instead of uploading again; it is released if storing fails.
/// </summary>
internal sealed partial class InboundMessages(
    IConversationStore store,
    IChannelStore channels,
    AttachmentStore attachments,
    IMemoryCache cache,
    ILogger<InboundMessages> logger)
{
    private static readonly TimeSpan ChannelCacheDuration = TimeSpan.FromSeconds(30);

    public async Task<ReceiveResult> ReceiveAsync(string companyId, string channelId, HookMessage request, CancellationToken cancellationToken = default)
    {
        var result = await ReceiveOnceAsync(companyId, channelId, request, cancellationToken);
        OmniTelemetry.MessageReceived(ChannelTypes.Omni, result.Outcome);
        return result;
    }

    private async Task<ReceiveResult> ReceiveOnceAsync(string companyId, string channelId, HookMessage request, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        if (ReceiveHookValidation.Check(request, errors, out var tooLarge) is not { } message)
        {
            return new ReceiveResult(tooLarge ? ReceiveOutcome.TooLarge : ReceiveOutcome.Invalid, Errors: errors.ToDictionary());
        }

        var channel = await GetChannelAsync(companyId, channelId, cancellationToken);
        if (channel is null)
        {
            return new ReceiveResult(ReceiveOutcome.ChannelDeleted);
        }

        if (channel.Type != ChannelTypes.Omni)
        {
            return new ReceiveResult(ReceiveOutcome.NotOmniChannel);
        }

        var reserved = false;
        if (message.Attachments.Count > 0)
        {
            // Uploads are the slow part: mark the key in flight first, so a concurrent retry is told to wait, not to upload again.
            var reservation = await store.ReserveAsync(companyId, channel.Id, message.ExternalId, message.BodyHash, cancellationToken);
            switch (reservation.Outcome)
            {
                case ReservationOutcome.InFlight:
                    return new ReceiveResult(ReceiveOutcome.InFlight);
                case ReservationOutcome.Completed:
                    return Answer(reservation.Existing!);
            }

            reserved = true;
        }

        AppendResult result;
        try
        {
            var refs = new List<AttachmentRef>();
            foreach (var a in message.Attachments)
            {
                refs.Add(await attachments.UploadAsync(companyId, channel.Id, a.FileName, a.ContentType, a.Content, cancellationToken));
            }

            result = await store.AppendInboundAsync(new InboundMessage(
                companyId, channel.Id, message.ExternalId, message.Contact, message.Text, Attachments: refs, Metadata: message.Metadata,
                ConversationKeys: message.ConversationExternalId is null ? null : [message.ConversationExternalId], BodyHash: message.BodyHash, Reserved: reserved),
                cancellationToken);
        }
        catch when (reserved)
        {
            // Not stored: free the key now rather than making the integrator's retry wait out the in-flight timeout.
            await store.ReleaseAsync(companyId, channel.Id, message.ExternalId, CancellationToken.None);
            throw;
        }

        if (result.Outcome == AppendOutcome.Created)
        {
            LogAccepted(result.Message.Id, result.Message.ConversationId, channel.Id);
        }

        return Answer(result);
    }

    /// <summary>
    /// The key was checked by authentication, uncached, and deleting a channel revokes its keys first; reading the
    /// channel too guards against a key outliving its channel. A live omni channel is remembered briefly, which saves
    /// a storage transaction on every message of a busy integrator.
    /// </summary>
    private async Task<Channel?> GetChannelAsync(string companyId, string channelId, CancellationToken cancellationToken)
    {
        var cacheKey = (typeof(InboundMessages), companyId, channelId);
        if (cache.TryGetValue(cacheKey, out Channel? channel))
        {
            return channel;
        }

        channel = await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken);
        if (channel is { Type: ChannelTypes.Omni })
        {
            cache.Set(cacheKey, channel, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ChannelCacheDuration, Size = 1 });
        }

        return channel;
    }

    private static ReceiveResult Answer(AppendResult result) => new(result.Outcome switch
    {
        AppendOutcome.Created => ReceiveOutcome.Accepted,
        AppendOutcome.Duplicate => ReceiveOutcome.Duplicate,
        _ => ReceiveOutcome.Mismatch,
    }, result.Message);

    [LoggerMessage(Level = LogLevel.Information, Message = "receive_hook accepted message {MessageId} in conversation {ConversationId} on channel {ChannelId}")]
    private partial void LogAccepted(string messageId, string conversationId, string channelId);
}
