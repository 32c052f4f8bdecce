using Omni.Channels;
using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// What the WhatsApp and Instagram transports share around their Graph calls: the channel's token, Meta's id of each
/// message it accepted kept in <see cref="MetaMessageIndex"/> (so its status events find the message), and Meta's
/// errors turned into what the sender does next. One stored message may take several Graph messages (text, then
/// each attachment); when a later one fails after an earlier one went out, the message is failed rather than
/// retried, so the customer never gets a part twice.
/// </summary>
internal sealed class MetaSends(IChannelStore channels, MetaMessageIndex index)
{
    public const string AccessTokenField = "accessToken";

    public string? Token(Channel channel) => channels.RevealSecret(channel, AccessTokenField) is { Length: > 0 } token ? token : null;

    /// <param name="send">Makes the Graph calls with the token, adding Meta's id of each accepted message to the list.</param>
    public async Task<SendResult> RunAsync(Channel channel, Conversation conversation, Message message, Func<string, List<string>, Task> send, CancellationToken cancellationToken)
    {
        if (Token(channel) is not { } token)
        {
            return new SendResult(SendOutcome.Permanent, "The channel has no access token; save its settings with accessToken.");
        }

        var accepted = new List<string>();
        SendResult? failed;
        try
        {
            await send(token, accepted);
            failed = null;
        }
        catch (MetaApiException e)
        {
            failed = MetaSendFailures.From(e);
        }
        catch (Exception e) when (MetaSendFailures.FromTransport(e, cancellationToken) is { } lost)
        {
            failed = lost;
        }

        var reference = new MetaMessageRef(conversation.CompanyId, conversation.Id, message.Id);
        foreach (var id in accepted)
        {
            await index.RecordAsync(channel.Id, id, reference, cancellationToken);
        }

        if (failed is null)
        {
            return new SendResult(SendOutcome.Sent, ProviderMessageId: accepted.FirstOrDefault());
        }

        return accepted.Count > 0 && failed.Outcome is SendOutcome.Transient or SendOutcome.Unknown
            ? new SendResult(SendOutcome.Permanent, $"Only part of the message went out ({accepted.Count} Meta message(s)) before this: {failed.Error} It is not sent again, so no part reaches the customer twice.")
            : failed;
    }
}
