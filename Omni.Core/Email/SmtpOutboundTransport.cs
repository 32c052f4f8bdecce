using MailKit.Net.Smtp;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Email;

/// <summary>
/// Sends an agent's message on an <c>email</c> channel over SMTP (MailKit) as a reply in the customer's thread.
/// A connection failure or a 4xx answer is Transient (the outbound queue retries later); a 5xx answer, a rejected
/// login or a TLS mismatch is Permanent, with a message fit to show the agent. Once the whole message was handed to
/// the server, a lost answer (a timeout, a dropped connection) is Unknown: the server may have accepted it, so it is
/// never retried blindly. A send interrupted by a crash cannot be checked over SMTP either, so it is Unknown too, but
/// only when the crashed attempt had reached the hand-over (marked just before DATA, one Merge per send): a crash while
/// connecting or logging in, the slow part and where a burst's in-flight sends mostly are, left nothing with the
/// server, and the message is simply sent again.
/// </summary>
internal sealed partial class SmtpOutboundTransport(
    MailConnector connector,
    IChannelStore channels,
    IConversationStore conversations,
    MailReplyBuilder replies,
    ILogger<SmtpOutboundTransport> logger) : IOutboundTransport
{
    public string ChannelType => ChannelTypes.Email;

    public async Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        var settings = EmailSettings.From(channel);
        var reply = await replies.BuildAsync(new MailIdentity(settings.Address, settings.DisplayName, settings.SignatureHtml), conversation, message, cancellationToken);
        using var smtp = connector.CreateSmtp();
        var handedOver = new HandOver();
        try
        {
            await connector.ConnectAsync(smtp, settings.Outgoing, cancellationToken: cancellationToken);
            if (smtp.Capabilities.HasFlag(SmtpCapabilities.Authentication))
            {
                await connector.AuthenticateAsync(smtp, settings.Address, channels.RevealSecret(channel, EmailSettings.PasswordField) ?? "", cancellationToken: cancellationToken);
            }

            await conversations.MarkHandOverAsync(message.CompanyId, message.ConversationId, message.Id, cancellationToken);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(connector.Options.OperationTimeout);
            await smtp.SendAsync(reply.Message, cts.Token, handedOver);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && handedOver.Complete && ex is not SmtpCommandException)
        {
            // The server had every byte; only its answer is missing, and that answer may have been 250.
            LogOutcomeUnknown(channel.Id, message.Id, ex.GetType().Name);
            return new SendResult(SendOutcome.Unknown,
                $"Delivery is unknown: the connection to {settings.Outgoing.Host} was lost ({ex.GetType().Name}) after the whole message was sent and before the server answered, "
                + "so it may or may not have been accepted. Check with the customer before sending it again.");
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

    public Task<SendResult?> ResolveInterruptedAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default) =>
        Task.FromResult(message.HandOverStarted ? new SendResult(SendOutcome.Unknown, InterruptedSend.UnknownError) : null);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMTP send of message {MessageId} on channel {ChannelId} lost the server's answer after the message data ({Error}): outcome unknown")]
    private partial void LogOutcomeUnknown(string channelId, string messageId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMTP send of message {MessageId} on channel {ChannelId} failed ({Kind}, transient: {Transient})")]
    private partial void LogSendFailed(string channelId, string messageId, MailFailureKind kind, bool transient);

    /// <summary>MailKit's progress over the message data (DATA or BDAT): complete once the server was given every byte.</summary>
    private sealed class HandOver : MailKit.ITransferProgress
    {
        public bool Complete { get; private set; }

        public void Report(long bytesTransferred, long totalSize) => Complete |= totalSize > 0 && bytesTransferred >= totalSize;

        // Without a known size, the data may be whole at any report: it counts as handed over once any was sent.
        public void Report(long bytesTransferred) => Complete |= bytesTransferred > 0;
    }
}
