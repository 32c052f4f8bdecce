using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>
/// Polls a Microsoft 365 inbox with a delta query. The stored delta link makes an idle poll one Graph request and no
/// storage write (an empty round keeps the old link, which stays valid); each new unread message's MIME goes to the
/// shared ingestion, and only once it is stored is it marked read on the server.
/// </summary>
/// <remarks>
/// Throttling (429/503) is not retried inside the poll: the Graph SDK's retry handler is left out of the pipeline,
/// because sleeping out a Retry-After would hold an instance (billed) and a second request within the pause is
/// what Graph asks us not to send. The pause is stored per mailbox and returned to the fan-out instead.
/// </remarks>
internal sealed partial class GraphMailboxPoller(
    GraphClientCache clients,
    GraphMailboxStateStore states,
    IInboundMimeSink sink,
    IOptions<MicrosoftGraphOptions> options,
    TimeProvider clock,
    ILogger<GraphMailboxPoller> logger) : IMailboxPoller
{
    private static readonly string[] DeltaFields = ["id", "isRead", "internetMessageId"];

    public string ChannelType => ChannelTypes.MicrosoftEmail;

    public async Task<PollResult> PollAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var state = await states.GetAsync(channel.CompanyId, channel.Id, cancellationToken);
        var now = clock.GetUtcNow();
        if (state.NotBefore is { } notBefore && notBefore > now)
        {
            // Still inside the pause Graph asked for: not even one request.
            return new PollResult(0, 0, 0, notBefore - now);
        }

        var mailboxId = channel.GetString("mailboxId");
        if (mailboxId is null || clients.Get(channel) is null)
        {
            LogNotConfigured(channel.CompanyId, channel.Id);
            return new PollResult(0, 0, 0);
        }

        var counts = new Counts();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await PollOnceAsync(channel, mailboxId, state, counts, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && GraphFailure.From(ex, clock) is { } failure)
            {
                if (failure.Kind == GraphFailureKind.Unauthorized && attempt == 0)
                {
                    // The credential held the token for valid but Graph did not (revoked, clock skew): a new
                    // credential asks Entra ID afresh, and the poll goes on.
                    LogTokenRefused(channel.CompanyId, channel.Id);
                    clients.Invalidate(channel);
                    continue;
                }

                if (failure.Status == 410 && attempt == 0 && state.Cursor is not null)
                {
                    // The delta link expired (Graph keeps sync state only so long): start a full round again.
                    state = state with { Cursor = null };
                    continue;
                }

                return await FailedAsync(channel, state, failure, counts, cancellationToken);
            }
        }
    }

    private async Task<PollResult> PollOnceAsync(Channel channel, string mailboxId, GraphMailboxState state, Counts counts, CancellationToken cancellationToken)
    {
        var client = clients.Get(channel)!.Client;
        var mailbox = client.Users[mailboxId];
        var delta = mailbox.MailFolders["inbox"].Messages.Delta;
        // A cursor made for another mailbox (the settings changed) means nothing here.
        var cursor = state.MailboxId == mailboxId ? state.Cursor : null;
        var url = cursor;
        var seen = false;
        string? next = null;
        for (var page = 1; ; page++)
        {
            var response = url is null
                ? await delta.GetAsDeltaGetResponseAsync(r =>
                {
                    r.QueryParameters.Select = DeltaFields;
                    r.Headers.Add("Prefer", "odata.maxpagesize=50");
                }, cancellationToken)
                : await delta.WithUrl(url).GetAsDeltaGetResponseAsync(cancellationToken: cancellationToken);

            foreach (var message in response?.Value ?? [])
            {
                seen = true;
                if (message.Id is null || message.IsRead != false || message.AdditionalData.ContainsKey("@removed"))
                {
                    continue;
                }

                await IngestAsync(channel, mailbox, message.Id, counts, cancellationToken);
            }

            if (response?.OdataDeltaLink is { } deltaLink)
            {
                next = deltaLink;
                break;
            }

            if (response?.OdataNextLink is not { } nextLink)
            {
                break;
            }

            next = url = nextLink;
            if (page >= options.Value.MaxPagesPerPoll)
            {
                break;
            }
        }

        // An empty round leaves the stored link as it is: replaying it later returns the same (nothing) plus
        // whatever arrived since, so writing the new link would buy nothing and cost a write per idle poll.
        var advanced = next is not null && next != cursor && (seen || cursor is null);
        if (advanced || state.NotBefore is not null)
        {
            await states.SaveAsync(channel.CompanyId, channel.Id, new GraphMailboxState(mailboxId, next ?? cursor, null, state.ETag), cancellationToken);
        }

        return counts.Result();
    }

    private async Task IngestAsync(Channel channel, Microsoft.Graph.Users.Item.UserItemRequestBuilder mailbox, string graphId, Counts counts, CancellationToken cancellationToken)
    {
        var item = mailbox.Messages[graphId];
        await using var mime = await item.Content.GetAsync(cancellationToken: cancellationToken);
        if (mime is null)
        {
            return;
        }

        var outcome = await sink.IngestAsync(channel, graphId, mime, cancellationToken);
        counts.Add(outcome);
        // Only now, with the message stored (or quarantined), may the server forget it is new.
        await item.PatchAsync(new Microsoft.Graph.Models.Message { IsRead = true }, cancellationToken: cancellationToken);
    }

    private async Task<PollResult> FailedAsync(Channel channel, GraphMailboxState state, GraphFailure failure, Counts counts, CancellationToken cancellationToken)
    {
        if (failure.Kind == GraphFailureKind.Throttled)
        {
            var pause = failure.RetryAfter is { } r && r > TimeSpan.Zero ? r : options.Value.DefaultRetryAfter;
            LogThrottled(channel.CompanyId, channel.Id, failure.Status, pause.TotalSeconds);
            await states.SaveAsync(channel.CompanyId, channel.Id, state with { NotBefore = clock.GetUtcNow() + pause }, cancellationToken);
            return counts.Result(pause);
        }

        // A wrong setting or an outage: the administrator sees it with "Testar Configurações"; the next poll tries again.
        LogPollFailed(channel.CompanyId, channel.Id, failure.Kind, failure.Status);
        return counts.Result(failure.RetryAfter);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph mailbox of channel {CompanyId}/{ChannelId} is not configured (mailbox id or client secret missing)")]
    private partial void LogNotConfigured(string companyId, string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Graph refused the cached token of channel {CompanyId}/{ChannelId}; asking for a new one")]
    private partial void LogTokenRefused(string companyId, string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph throttled channel {CompanyId}/{ChannelId} ({Status}); no call before {Seconds} s")]
    private partial void LogThrottled(string companyId, string channelId, int? status, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph poll of channel {CompanyId}/{ChannelId} failed: {Kind} ({Status})")]
    private partial void LogPollFailed(string companyId, string channelId, GraphFailureKind kind, int? status);

    private sealed class Counts
    {
        private int _ingested;
        private int _duplicates;
        private int _quarantined;

        public void Add(MimeIngestOutcome outcome)
        {
            switch (outcome)
            {
                case MimeIngestOutcome.Ingested: _ingested++; break;
                case MimeIngestOutcome.Duplicate: _duplicates++; break;
                case MimeIngestOutcome.Quarantined: _quarantined++; break;
            }
        }

        public PollResult Result(TimeSpan? retryAfter = null) => new(_ingested, _duplicates, _quarantined, retryAfter);
    }
}
