using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Graph;
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
/// conversation, exactly as with SMTP; Exchange saves a copy in Sent Items, where a send interrupted by a crash is
/// looked up by that Message-ID before it is sent again.
/// </summary>
internal sealed partial class GraphMailSender(GraphClientCache clients, TimeProvider clock, ILogger<GraphMailSender> logger)
{
    private static readonly Dictionary<string, ParsableFactory<IParsable>> Errors = new() { ["XXX"] = ODataError.CreateFromDiscriminatorValue };

    public async Task<SendResult> SendAsync(Channel channel, MimeMessage mime, CancellationToken cancellationToken = default)
    {
        var content = await EncodeAsync(mime, cancellationToken);
        // The call below always answers, so the result is never null.
        return (await CallAsync(channel, async (client, mailboxId) =>
        {
            // The typed request only speaks JSON; its MIME form is the same route with a text/plain body.
            var request = client.Users[mailboxId].SendMail.ToPostRequestInformation(new SendMailPostRequestBody());
            request.Headers.Remove("Content-Type");
            request.SetStreamContent(new MemoryStream(content, writable: false), "text/plain");
            await client.RequestAdapter.SendNoContentAsync(request, Errors, cancellationToken);
            return new SendResult(SendOutcome.Sent);
        }, cancellationToken))!;
    }

    /// <summary>
    /// Whether the mailbox's Sent Items hold a message with this Message-ID (<c>GET /users/{id}/mailFolders/sentitems/messages
    /// ?$filter=internetMessageId eq '&lt;…&gt;'</c>): Sent when found, null when not, Transient or Permanent when Graph would not say.
    /// </summary>
    public Task<SendResult?> FindSentAsync(Channel channel, string messageId, CancellationToken cancellationToken = default) =>
        CallAsync(channel, async (client, mailboxId) =>
        {
            var found = await client.Users[mailboxId].MailFolders["sentitems"].Messages.GetAsync(r =>
            {
                // OData doubles a quote inside a string literal; Graph stores the id with its angle brackets.
                r.QueryParameters.Filter = $"internetMessageId eq '<{messageId.Replace("'", "''", StringComparison.Ordinal)}>'";
                r.QueryParameters.Select = ["id"];
                r.QueryParameters.Top = 1;
            }, cancellationToken);
            return found?.Value is { Count: > 0 } ? new SendResult(SendOutcome.Sent) : null;
        }, cancellationToken);

    /// <summary>One Graph call as the channel's mailbox, with a renewed token once after a 401, its failure classified.</summary>
    private async Task<SendResult?> CallAsync(Channel channel, Func<GraphServiceClient, string, Task<SendResult?>> call, CancellationToken cancellationToken)
    {
        if (channel.GetString("mailboxId") is not { } mailboxId)
        {
            return new SendResult(SendOutcome.Permanent, "The channel has no mailboxId.");
        }

        for (var attempt = 0; ; attempt++)
        {
            if (clients.Get(channel) is not { } connection)
            {
                return new SendResult(SendOutcome.Permanent, "The channel has no client secret; save the settings with clientSecret.");
            }

            try
            {
                return await call(connection.Client, mailboxId);
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
