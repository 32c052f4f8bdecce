using Omni.Channels;

namespace Omni.Email;

/// <summary>The <c>email</c> channel's poller: IMAP or POP3, as the channel's incoming settings say.</summary>
internal sealed class EmailMailboxPoller(ImapMailboxPoller imap, Pop3MailboxPoller pop3) : IMailboxPoller
{
    public string ChannelType => ChannelTypes.Email;

    public Task<PollResult> PollAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var settings = EmailSettings.From(channel);
        return settings.Protocol == IncomingProtocol.Pop3
            ? pop3.PollAsync(channel, settings, cancellationToken)
            : imap.PollAsync(channel, settings, cancellationToken);
    }
}
