using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Graph.Users.Item.SendMail;
using Microsoft.Kiota.Abstractions.Serialization;
using MimeKit;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.MicrosoftEmail;

/// <summary>
/// Sends a message built as MIME through the channel's mailbox (<c>POST /users/{id}/sendMail</c> with the MIME in
/// base64). Sending our own MIME, rather than Graph's createReply, keeps the Message-ID, In-Reply-To and
/// References we chose, so the customer's client threads the reply and their answer threads back to the
/// conversation, exactly as with SMTP; Exchange saves a copy in Sent Items.
/// </summary>
internal sealed partial class GraphMailSender(GraphClientCache clients, TimeProvider clock, ILogger<GraphMailSender> logger)
{
    private static readonly Dictionary<string, ParsableFactory<IParsable>> Errors = new() { ["XXX"] = ODataError.CreateFromDiscriminatorValue };

    public async Task<SendResult> SendAsync(Channel channel, MimeMessage mime, CancellationToken cancellationToken = default)
    {
        if (channel.GetString("mailboxId") is not { } mailboxId)
        {
            return new SendResult(SendOutcome.Permanent, "The channel has no mailboxId.");
        }

        var content = await EncodeAsync(mime, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            if (clients.Get(channel) is not { } connection)
            {
                return new SendResult(SendOutcome.Permanent, "The channel has no client secret; save the settings with clientSecret.");
            }

            try
            {
                // The typed request only speaks JSON; its MIME form is the same route with a text/plain body.
                var request = connection.Client.Users[mailboxId].SendMail.ToPostRequestInformation(new SendMailPostRequestBody());
                request.Headers.Remove("Content-Type");
                request.SetStreamContent(new MemoryStream(content, writable: false), "text/plain");
                await connection.Client.RequestAdapter.SendNoContentAsync(request, Errors, cancellationToken);
                return new SendResult(SendOutcome.Sent);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && GraphFailure.From(ex, clock) is { } failure)
            {
                if (failure.Kind == GraphFailureKind.Unauthorized && attempt == 0)
                {
                    clients.Invalidate(channel);
                    continue;
                }

                LogSendFailed(channel.CompanyId, channel.Id, failure.Kind, failure.Status);
                return failure.IsTransient
                    ? new SendResult(SendOutcome.Transient, failure.Message, RetryAfter: failure.RetryAfter)
                    : new SendResult(SendOutcome.Permanent, failure.Message);
            }
        }
    }

    private static async Task<byte[]> EncodeAsync(MimeMessage mime, CancellationToken cancellationToken)
    {
        using var raw = new MemoryStream();
        await mime.WriteToAsync(FormatOptions.Default, raw, cancellationToken);
        return Encoding.ASCII.GetBytes(Convert.ToBase64String(raw.GetBuffer(), 0, (int)raw.Length));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph send of channel {CompanyId}/{ChannelId} failed: {Kind} ({Status})")]
    private partial void LogSendFailed(string companyId, string channelId, GraphFailureKind kind, int? status);
}
