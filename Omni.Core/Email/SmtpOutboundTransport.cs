using MailKit.Net.Smtp;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Email;

/// <summary>
/// Sends an agent's message on an <c>email</c> channel over SMTP (MailKit) as a reply in the customer's thread.
/// A connection failure or a 4xx answer is Transient (the outbound queue retries later); a 5xx answer, a rejected
/// login or a TLS mismatch is Permanent, with a message fit to show the agent.
/// </summary>
internal sealed partial class SmtpOutboundTransport(
    MailConnector connector,
    IChannelStore channels,
    MailReplyBuilder replies,
    ILogger<SmtpOutboundTransport> logger) : IOutboundTransport
{
    public string ChannelType => ChannelTypes.Email;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        var settings = EmailSettings.From(channel);
        var reply = await replies.BuildAsync(new MailIdentity(settings.Address, settings.DisplayName, settings.SignatureHtml), conversation, message, cancellationToken);
        using var smtp = connector.CreateSmtp();
        try
        {
            await connector.ConnectAsync(smtp, settings.Outgoing, cancellationToken: cancellationToken);
            if (smtp.Capabilities.HasFlag(SmtpCapabilities.Authentication))
            {
                await connector.AuthenticateAsync(smtp, settings.Address, channels.RevealSecret(channel, EmailSettings.PasswordField) ?? "", cancellationToken: cancellationToken);
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(connector.Options.OperationTimeout);
            await smtp.SendAsync(reply.Message, cts.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var failure = MailConnector.Classify(ex, settings.Outgoing);
            LogSendFailed(channel.Id, message.Id, failure.Kind, failure.Transient);
            return new SendResult(failure.Transient ? SendOutcome.Transient : SendOutcome.Permanent, failure.Message);
        }

        // Sent already; a lost QUIT changes nothing.
        await MailConnector.DisconnectQuietlyAsync(smtp);

        return new SendResult(SendOutcome.Sent, Mail: reply.Headers);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMTP send of message {MessageId} on channel {ChannelId} failed ({Kind}, transient: {Transient})")]
    private partial void LogSendFailed(string channelId, string messageId, MailFailureKind kind, bool transient);
}
