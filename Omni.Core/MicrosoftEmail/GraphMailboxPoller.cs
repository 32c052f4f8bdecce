using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Graph.Users.Item;
using Omni.Channels;
using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>
/// Polls a Microsoft 365 inbox with a delta query, on the shared mail machinery: the poll schedule and queue, the
/// per-mailbox cursor and lease (<see cref="MailboxStateStore"/>) and ingestion (<see cref="MailIngestor"/>). The
/// stored delta link makes an idle poll one Graph request, one table read and no write; the new unread messages'
/// MIME is read and stored a batch at a time (<see cref="MailIngestor.IngestBatchAsync{TKey}"/>, routing cached per
/// poll), and only once a message is stored is it marked read on the server.
/// </summary>
/// <remarks>
/// Throttling (429/503) is not retried inside the poll: the Graph SDK's retry handler is left out of the pipeline,
/// because sleeping out a Retry-After would hold a billed instance, and a call within the pause is what Graph asks
/// us not to make. The pause is stored in the mailbox's cursor (no poll calls Graph before it ends) and returned as
/// <see cref="PollResult.RetryAfter"/>, so the poll runner queues the next poll for when it ends.
/// </remarks>
internal sealed partial class GraphMailboxPoller(
    GraphClientCache clients,
    MailboxStateStore states,
    MailIngestor ingestor,
    MailFaults faults,
    IOptions<MicrosoftGraphOptions> options,
    IOptions<EmailOptions> emailOptions,
    TimeProvider clock,
    ILogger<GraphMailboxPoller> logger) : IMailboxPoller
{
    private const string PageSize = "odata.maxpagesize=50";
    private static readonly string[] DeltaFields = ["id", "isRead", "internetMessageId"];

    public string ChannelType => ChannelTypes.MicrosoftEmail;

    public async Task<PollResult> PollAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var run = new GraphPollRun(Guid.NewGuid().ToString("N"), await states.GetAsync(channel, cancellationToken));
        var now = clock.GetUtcNow();
        if (run.State.IsLeasedByAnother(run.Owner, now))
        {
            return new PollResult(0, 0, 0);
        }

        var cursor = GraphCursor.Parse(run.State.Cursor);
        if (cursor.NotBefore > now)
        {
            // Inside the pause Graph asked for: not one request. No RetryAfter either: the throttled poll already
            // queued the poll that ends the pause, and the scheduled ones keep coming.
            return new PollResult(0, 0, 0);
        }

        var mailboxId = channel.GetString("mailboxId");
        if (mailboxId is null || clients.Get(channel) is null)
        {
            LogNotConfigured(channel.CompanyId, channel.Id);
            return new PollResult(0, 0, 0);
        }

        // A cursor made for another mailbox (the settings changed) means nothing here.
        var link = cursor.Mailbox == mailboxId ? cursor.Link : null;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    return await PollOnceAsync(channel, mailboxId, link, cursor, run, cancellationToken);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && GraphFailure.From(ex, clock) is { } failure)
                {
                    if (failure.Kind == GraphFailureKind.Unauthorized && attempt == 0)
                    {
                        // The credential held the token for valid but Graph did not (expired early, revoked, clock
                        // skew): a new credential asks Entra ID afresh, and the poll goes on.
                        LogTokenRefused(channel.CompanyId, channel.Id);
                        clients.Invalidate(channel);
                        continue;
                    }

                    if (failure.Status == 410 && attempt == 0 && link is not null)
                    {
                        // The delta link expired (Graph keeps sync state only so long): a full round again; what
                        // was read is skipped and Message-IDs keep anything from doubling.
                        link = null;
                        continue;
                    }

                    return await FailedAsync(channel, mailboxId, link, run, failure, cancellationToken);
                }
            }
        }
        finally
        {
            if (run.Leased)
            {
                // Release even after a failure, so the next poll need not wait for the lease to run out.
                try
                {
                    await states.SaveAsync(run.State, run.State.Cursor, renewFor: null, CancellationToken.None);
                }
                catch (Exception ex) when (ex is MailboxLeaseLostException or Azure.RequestFailedException)
                {
                    LogReleaseFailed(ex, channel.Id);
                }
            }
        }
    }

    private async Task<PollResult> PollOnceAsync(Channel channel, string mailboxId, string? link, GraphCursor stored, GraphPollRun run, CancellationToken cancellationToken)
    {
        var mailbox = clients.Get(channel)!.Client.Users[mailboxId];
        var delta = mailbox.MailFolders["inbox"].Messages.Delta;
        var url = link;
        var seen = false;
        var more = false;
        string? next = null;
        for (var page = 1; ; page++)
        {
            // The page size is asked for on every page, links included: a page is what one batch of storage may take
            // at most, and Graph's default of 10 would split a burst into more transactions and cursor saves.
            var response = url is null
                ? await delta.GetAsDeltaGetResponseAsync(r =>
                {
                    r.QueryParameters.Select = DeltaFields;
                    r.Headers.Add("Prefer", PageSize);
                }, cancellationToken)
                : await delta.WithUrl(url).GetAsDeltaGetResponseAsync(r => r.Headers.Add("Prefer", PageSize), cancellationToken);

            var batch = new MailBatch<string>();
            try
            {
                foreach (var message in response?.Value ?? [])
                {
                    seen = true;
                    if (message.Id is null || message.IsRead != false || message.AdditionalData.ContainsKey("@removed"))
                    {
                        continue;
                    }

                    if (!run.Leased && !await LeaseAsync(run, cancellationToken))
                    {
                        // Another poller found the same work first: it carries on from the stored cursor.
                        return run.Counts.Result();
                    }

                    await TakeAsync(channel, mailbox, message.Id, run, batch, cancellationToken);
                    if (batch.IsFull)
                    {
                        await StoreAsync(channel, mailbox, run, batch, cancellationToken);
                        batch = new MailBatch<string>();
                    }
                }

                await StoreAsync(channel, mailbox, run, batch, cancellationToken);
            }
            finally
            {
                // Read and not stored (the poll failed): left unread, taken by the next poll.
                await batch.DisposeAsync();
            }

            next = response?.OdataDeltaLink ?? response?.OdataNextLink;
            var last = response?.OdataDeltaLink is not null || response?.OdataNextLink is null
                || page >= options.Value.MaxPagesPerPoll || run.Counts.Total >= emailOptions.Value.MaxMessagesPerPoll;
            if (run.Leased && next is not null && !run.Held)
            {
                // A finished page is a safe place to resume from, and saving it renews the lease. The last page's
                // link is saved by the lease release (PollAsync's finally): one write, not two.
                var cursor = new GraphCursor(mailboxId, next, null).ToString();
                run.State = last ? run.State with { Cursor = cursor } : await states.SaveAsync(run.State, cursor, emailOptions.Value.LeaseDuration, cancellationToken);
            }

            if (response?.OdataDeltaLink is not null || response?.OdataNextLink is null)
            {
                break;
            }

            url = response.OdataNextLink;
            if (last)
            {
                more = true;
                break;
            }
        }

        // An empty round keeps the stored link: Graph hands out a new one every round, but replaying the old one
        // returns the same nothing plus whatever arrived since, so storing it would cost a write per idle poll.
        var advanced = next is not null && next != link && (seen || link is null);
        if (!run.Leased && (advanced || stored.NotBefore is not null || link != stored.Link))
        {
            await SaveWithoutLeaseAsync(channel, run, new GraphCursor(mailboxId, next ?? link, null), cancellationToken);
        }

        if (run.Counts.Total > 0)
        {
            LogPolled(channel.Id, run.Counts.Ingested, run.Counts.Duplicates, run.Counts.Quarantined);
        }

        return run.Counts.Result(more ? TimeSpan.Zero : null);
    }

    /// <summary>
    /// Reads one message's MIME. Small mail is spooled into the batch (memory up to 256 KiB, else a file; the delta
    /// gives no size, so up to <see cref="MailIngestor.MaxBatchedBytes"/> is read to tell); larger mail is ingested
    /// alone, streamed within the ingest budget, after the batch before it, so the mailbox's order holds.
    /// </summary>
    private async Task TakeAsync(Channel channel, UserItemRequestBuilder mailbox, string graphId, GraphPollRun run, MailBatch<string> batch, CancellationToken cancellationToken)
    {
        var providerId = "graph:" + graphId;
        Stream? mime = null;
        MailSpool? start = null;
        try
        {
            mime = await mailbox.Messages[graphId].Content.GetAsync(cancellationToken: cancellationToken);
            if (mime is null)
            {
                return;
            }

            start = await MailSpool.ReadAsync(mime, ingestor.MaxBatchedBytes + 1, cancellationToken);
        }
        catch (Exception ex) when (IsMessageFault(ex))
        {
            batch.Failed(graphId, providerId, ex);
            return;
        }
        finally
        {
            if (start is null && mime is not null)
            {
                await mime.DisposeAsync();
            }
        }

        if (start is null)
        {
            return;
        }

        if (start.Length <= ingestor.MaxBatchedBytes)
        {
            // Read whole: the response is done with, the spool goes into the batch.
            await mime!.DisposeAsync();
            if (batch.Bytes + start.Length > MailIngestor.BatchBytes)
            {
                // Its size is known only now: the batch before it goes first, so none holds more than BatchBytes.
                try
                {
                    await StoreAsync(channel, mailbox, run, batch, cancellationToken);
                }
                catch
                {
                    await start.DisposeAsync();
                    throw;
                }
            }

            batch.Add(graphId, providerId, start.Content);
            return;
        }

        await using (mime)
        await using (start)
        {
            await StoreAsync(channel, mailbox, run, batch, cancellationToken);
            IngestAttempt attempt;
            try
            {
                attempt = new IngestAttempt(await ingestor.IngestAsync(channel, new ConcatenatedStream(start.Content, mime), providerId, size: null, cancellationToken), null);
            }
            catch (Exception ex) when (IsMessageFault(ex))
            {
                attempt = new IngestAttempt(null, ex);
            }

            await SettleAsync(channel, mailbox, run, graphId, providerId, attempt, cancellationToken);
        }
    }

    /// <summary>Stores the batch read so far (and empties it), then marks read what is now stored.</summary>
    private async Task StoreAsync(Channel channel, UserItemRequestBuilder mailbox, GraphPollRun run, MailBatch<string> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        foreach (var (graphId, providerId, attempt) in await ingestor.IngestBatchAsync(channel, batch, run.Routes, cancellationToken))
        {
            await SettleAsync(channel, mailbox, run, graphId, providerId, attempt, cancellationToken);
        }
    }

    private async Task SettleAsync(Channel channel, UserItemRequestBuilder mailbox, GraphPollRun run, string graphId, string providerId, IngestAttempt attempt, CancellationToken cancellationToken)
    {
        (run.State, var outcome) = await faults.SettleAsync(channel, run.State, providerId, attempt, cancellationToken);
        if (outcome is not { } done)
        {
            // Left unread; the page's link is not saved, so the next poll sees this message again.
            run.Held = true;
            return;
        }

        run.Counts.Add(done);
        // Only now, with the message stored (or quarantined), may the server forget it is new.
        await mailbox.Messages[graphId].PatchAsync(new Microsoft.Graph.Models.Message { IsRead = true }, cancellationToken: cancellationToken);
    }

    // This one message's failure (Graph cannot give its MIME, it cannot be parsed or stored), not the mailbox's:
    // throttling, a refused token or no access stop the poll, as does Graph being unreachable.
    private bool IsMessageFault(Exception exception) => GraphFailure.From(exception, clock) is { } failure
        ? failure.Kind is GraphFailureKind.NotFound or GraphFailureKind.Rejected || (failure.Kind == GraphFailureKind.Unavailable && failure.Status is not null)
        : MailFaults.IsMessageFault(exception);

    private async Task<bool> LeaseAsync(GraphPollRun run, CancellationToken cancellationToken)
    {
        if (await states.TryLeaseAsync(run.State, run.Owner, emailOptions.Value.LeaseDuration, cancellationToken) is not { } leased)
        {
            return false;
        }

        run.State = leased;
        run.Leased = true;
        return true;
    }

    private async Task<PollResult> FailedAsync(Channel channel, string mailboxId, string? link, GraphPollRun run, GraphFailure failure, CancellationToken cancellationToken)
    {
        if (failure.Kind == GraphFailureKind.Throttled)
        {
            var pause = failure.RetryAfter is { } r && r > TimeSpan.Zero ? r : options.Value.DefaultRetryAfter;
            LogThrottled(channel.CompanyId, channel.Id, failure.Status, pause.TotalSeconds);
            // Keep the furthest link this mailbox has (a page saved during this poll, or the one it started from).
            var current = GraphCursor.Parse(run.State.Cursor);
            var paused = new GraphCursor(mailboxId, current.Mailbox == mailboxId ? current.Link : link, clock.GetUtcNow() + pause);
            if (run.Leased)
            {
                run.State = await states.SaveAsync(run.State, paused.ToString(), emailOptions.Value.LeaseDuration, cancellationToken);
            }
            else
            {
                await SaveWithoutLeaseAsync(channel, run, paused, cancellationToken);
            }

            return run.Counts.Result(pause);
        }

        // A wrong setting or an outage: the administrator sees which with "Testar Configurações"; the next poll tries again.
        LogPollFailed(channel.CompanyId, channel.Id, failure.Kind, failure.Status);
        return run.Counts.Result(failure.RetryAfter);
    }

    private async Task SaveWithoutLeaseAsync(Channel channel, GraphPollRun run, GraphCursor cursor, CancellationToken cancellationToken)
    {
        try
        {
            run.State = await states.SaveAsync(run.State, cursor.ToString(), renewFor: null, cancellationToken);
        }
        catch (MailboxLeaseLostException)
        {
            // Another poller wrote the row since it was read: its cursor is as good, and newer.
            LogCursorRace(channel.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph mailbox of channel {CompanyId}/{ChannelId} is not configured (mailbox id or client secret missing)")]
    private partial void LogNotConfigured(string companyId, string channelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Graph refused the cached token of channel {CompanyId}/{ChannelId}; asking for a new one")]
    private partial void LogTokenRefused(string companyId, string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph throttled channel {CompanyId}/{ChannelId} ({Status}); no call before {Seconds} s")]
    private partial void LogThrottled(string companyId, string channelId, int? status, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Graph poll of channel {CompanyId}/{ChannelId} failed: {Kind} ({Status})")]
    private partial void LogPollFailed(string companyId, string channelId, GraphFailureKind kind, int? status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Graph poll of channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Graph poll of channel {ChannelId} lost a cursor write to another poller")]
    private partial void LogCursorRace(string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the poll lease of channel {ChannelId}; it expires on its own")]
    private partial void LogReleaseFailed(Exception exception, string channelId);
}
