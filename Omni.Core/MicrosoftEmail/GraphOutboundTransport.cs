using Omni.Channels;
using Omni.Conversations;
using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>
/// Sends an agent's message on a <c>microsoft-email</c> channel: the shared reply builder makes the reply in the
/// customer's thread (In-Reply-To, References, "Re:", the channel's signature, a Message-ID of ours) and Graph sends
/// that MIME from the mailbox. The Message-ID goes back to the store, so the customer's answer joins the conversation.
/// </summary>
internal sealed class GraphOutboundTransport(MailReplyBuilder replies, GraphMailSender sender) : IOutboundTransport
{
    public string ChannelType => ChannelTypes.MicrosoftEmail;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        if (channel.GetString("address") is not { } address)
        {
            return new SendResult(SendOutcome.Permanent, "The channel has no address.");
        }

        var reply = await replies.BuildAsync(new MailIdentity(address, null, channel.GetString("signatureHtml")), conversation, message, cancellationToken);
        var result = await sender.SendAsync(channel, reply.Message, cancellationToken);
        return result.Outcome == SendOutcome.Sent ? result with { Mail = reply.Headers } : result;
    }

    /// <summary>A crashed attempt may have gone out: found in Sent Items by its Message-ID it is sent (with the headers replies thread to), else it is sent now.</summary>
    public async Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        if (channel.GetString("address") is not { } address)
        {
            return null;
        }

        var found = await sender.FindSentAsync(channel, MailReplyBuilder.MessageIdOf(message, address), cancellationToken);
        if (found?.Outcome != SendOutcome.Sent)
        {
            return found;
        }

        var reply = await replies.BuildAsync(new MailIdentity(address, null, channel.GetString("signatureHtml")), conversation, message, cancellationToken);
        return found with { Mail = reply.Headers };
    }
}
