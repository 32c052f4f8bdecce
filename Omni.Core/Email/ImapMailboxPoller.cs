using System.Globalization;
using MailKit;
using MailKit.Search;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Email;

/// <summary>
/// Polls an <c>email</c> channel's IMAP INBOX: only messages that are unseen and above the stored UID cursor (kept
/// with the folder's UIDVALIDITY, so nothing is rescanned); each is stored first and only then flagged \Seen.
/// Quarantined mail gets \Seen and the <c>$OmniQuarantined</c> keyword so it is never retried. An idle poll costs
/// one table read and LOGIN, SELECT, UID SEARCH, LOGOUT; it writes nothing.
/// </summary>
internal sealed partial class ImapMailboxPoller(
    MailConnector connector,
    IChannelStore channels,
    MailboxStateStore states,
    MailIngestor ingestor,
    MailFaults faults,
    TimeProvider clock,
    ILogger<ImapMailboxPoller> logger)
{
    public const string QuarantinedKeyword = "$OmniQuarantined";

    /// <summary>For the benchmark: the IMAP exchange of each poll goes here (commands are counted, never logged).</summary>
    public Func<IProtocolLogger>? ProtocolLoggerFactory { get; set; }

    public async Task<PollResult> PollAsync(Channel channel, EmailSettings settings, CancellationToken cancellationToken = default)
    {
        var owner = Guid.NewGuid().ToString("N");
        var state = await states.GetAsync(channel, cancellationToken);
        if (state.IsLeasedByAnother(owner, clock.GetUtcNow()))
        {
            return new PollResult(0, 0, 0);
        }

        using var client = connector.CreateImap(ProtocolLoggerFactory?.Invoke());
        await connector.ConnectAsync(client, settings.Incoming, cancellationToken: cancellationToken);
        await connector.AuthenticateAsync(client, settings.Address, channels.RevealSecret(channel, EmailSettings.PasswordField) ?? "", cancellationToken: cancellationToken);
        var inbox = client.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite, cancellationToken);

        var identity = settings.IncomingIdentity();
        var cursor = Cursor.Parse(state.Cursor);
        if (cursor.Identity is { } stored && stored != identity)
        {
            // Another server, account or folder behind this channel: its UIDs (even under an equal UIDVALIDITY) say
            // nothing about this one, and neither do the failure counts. Start over on its unseen mail.
            cursor = new Cursor(identity, inbox.UidValidity, 0);
            state = state with { Failures = null };
        }
        else if (cursor.UidValidity != inbox.UidValidity)
        {
            // New UIDVALIDITY: the old UIDs mean nothing now. Start over on unseen mail; Message-IDs keep it from doubling.
            cursor = new Cursor(identity, inbox.UidValidity, 0);
        }

        cursor = cursor with { Identity = identity };
        var query = SearchQuery.Uids(new UniqueIdRange(new UniqueId(cursor.LastUid + 1), UniqueId.MaxValue)).And(SearchQuery.NotSeen);
        var found = (await inbox.SearchAsync(query, cancellationToken)).Where(u => u.Id > cursor.LastUid).OrderBy(u => u.Id).ToList();
        if (found.Count == 0)
        {
            await MailConnector.DisconnectQuietlyAsync(client);
            return new PollResult(0, 0, 0);
        }

        if (await states.LeaseOrDisconnectAsync(state, owner, connector.Options.LeaseDuration, client, cancellationToken) is not { } leased)
        {
            return new PollResult(0, 0, 0);
        }

        state = leased;
        int ingested = 0, duplicates = 0, quarantined = 0;
        uint? held = null;
        var more = found.Count > connector.Options.MaxMessagesPerPoll;
        var routes = new InboundRouteCache();
        Task<Batch>? storing = null;
        try
        {
            // One FETCH for the sizes and flags of everything this poll takes.
            var summaries = await inbox.FetchAsync(found.Take(connector.Options.MaxMessagesPerPoll).ToList(), MessageSummaryItems.UniqueId | MessageSummaryItems.Size | MessageSummaryItems.Flags, cancellationToken);
            foreach (var batch in Batches(summaries.OrderBy(s => s.UniqueId.Id).ToList()))
            {
                // Fetched while the batch before is being stored: IMAP and storage overlap, one batch apart.
                var next = batch.Large ? null : await FetchAsync(client, inbox, cursor, batch, cancellationToken);
                if (storing is not null)
                {
                    Batch done;
                    try
                    {
                        done = await storing;
                    }
                    catch
                    {
                        if (next is not null)
                        {
                            await next.DisposeAsync();
                        }

                        throw;
                    }
                    finally
                    {
                        storing = null;
                    }

                    (state, held) = await FinishAsync(channel, inbox, state, done, held, cancellationToken);
                    cursor = AdvanceTo(cursor, held, done.LastUid);
                    state = await states.SaveAsync(state, cursor.ToString(), connector.Options.LeaseDuration, cancellationToken);
                }

                if (next is not null)
                {
                    storing = StoreAsync(channel, next, routes, cancellationToken);
                    continue;
                }

                // Large mail, one at a time within the ingest budget (oversized mail is streamed whole into the
                // quarantine): its fetch is its own, nothing to overlap with.
                var alone = await IngestLargeAsync(client, inbox, channel, cursor, batch, cancellationToken);
                (state, held) = await FinishAsync(channel, inbox, state, alone, held, cancellationToken);
                cursor = AdvanceTo(cursor, held, alone.LastUid);
                state = await states.SaveAsync(state, cursor.ToString(), connector.Options.LeaseDuration, cancellationToken);
            }

            if (storing is not null)
            {
                var done = await storing;
                storing = null;
                (state, held) = await FinishAsync(channel, inbox, state, done, held, cancellationToken);
                // Saved by the release below, which writes the cursor with the lease: one write, not two.
                cursor = AdvanceTo(cursor, held, done.LastUid);
            }
        }
        finally
        {
            if (storing is not null)
            {
                // A failure while the next batch was fetched: the batch being stored finishes (or fails) first, so
                // nothing runs on after the poll. What it stored is not \Seen yet and is a duplicate next time; its own
                // failure, if any, is observed here and the poll's failure is the one that propagates.
                await Task.WhenAny(storing);
                _ = storing.Exception;
            }

            if (state.LeaseOwner == owner)
            {
                // Release even after a failure, so the next poll need not wait for the lease to run out.
                try
                {
                    await states.SaveAsync(state, cursor.ToString(), renewFor: null, CancellationToken.None);
                }
                catch (Exception ex) when (ex is MailboxLeaseLostException or Azure.RequestFailedException)
                {
                    LogReleaseFailed(ex, channel.Id);
                }
            }
        }

        await MailConnector.DisconnectQuietlyAsync(client);
        LogPolled(channel.Id, ingested, duplicates, quarantined);
        return new PollResult(ingested, duplicates, quarantined, more ? TimeSpan.Zero : null);

        // Counts a stored batch's outcomes, then flags on the server what was stored durably, and only that.
        async Task<(MailboxState, uint?)> FinishAsync(Channel channel, IMailFolder inbox, MailboxState state, Batch done, uint? held, CancellationToken cancellationToken)
        {
            var seen = new List<UniqueId>();
            var marked = new List<UniqueId>();
            foreach (var (uid, attempt) in done.Outcomes)
            {
                (state, var outcome) = await faults.SettleAsync(channel, state, ProviderId(cursor, uid), attempt, cancellationToken);
                if (outcome is null)
                {
                    // Left unseen for the next poll; the cursor must not pass it.
                    held = Math.Min(held ?? uint.MaxValue, uid.Id);
                    continue;
                }

                switch (outcome)
                {
                    case IngestOutcome.Ingested: ingested++; seen.Add(uid); break;
                    case IngestOutcome.Duplicate: duplicates++; seen.Add(uid); break;
                    default: quarantined++; marked.Add(uid); break;
                }
            }

            // Stored durably above; only now does the server learn they were read.
            if (seen.Count > 0)
            {
                await inbox.StoreAsync(seen, new StoreFlagsRequest(StoreAction.Add, MessageFlags.Seen) { Silent = true }, cancellationToken);
            }

            if (marked.Count > 0)
            {
                await inbox.StoreAsync(marked, new StoreFlagsRequest(StoreAction.Add, MessageFlags.Seen, [QuarantinedKeyword]) { Silent = true }, cancellationToken);
            }

            return (state, held);
        }
    }

    /// <summary>Past a held message only what was stored is \Seen, so the next search finds just the held one again.</summary>
    private static Cursor AdvanceTo(Cursor cursor, uint? held, uint lastUid) =>
        cursor with { LastUid = held is { } h ? Math.Max(cursor.LastUid, Math.Min(h - 1, lastUid)) : Math.Max(cursor.LastUid, lastUid) };

    /// <summary>
    /// The poll's messages in UID order, in batches of small mail (at most <see cref="MailIngestor.BatchSize"/> and
    /// <see cref="MailIngestor.BatchBytes"/>, read ahead in one FETCH) and of one large mail each. Mail read by someone else
    /// since the search is theirs, not ours, and left out, but the cursor still passes it.
    /// </summary>
    private IEnumerable<PollBatch> Batches(List<IMessageSummary> summaries)
    {
        var small = new List<IMessageSummary>();
        long bytes = 0;
        uint last = 0, covered = 0;
        foreach (var summary in summaries)
        {
            var size = (long)(summary.Size ?? 0);
            // Read ahead onto disk (SpoolingImapClient), not memory, but bounded all the same.
            var large = ingestor.IsLarge(summary.Size is { } known ? (long)known : null);
            if (small.Count > 0 && (large || small.Count == MailIngestor.BatchSize || bytes + size > MailIngestor.BatchBytes))
            {
                yield return new PollBatch(small, false, covered = last);
                small = [];
                bytes = 0;
            }

            last = summary.UniqueId.Id;
            if (summary.Flags?.HasFlag(MessageFlags.Seen) == true)
            {
                continue;
            }

            if (large)
            {
                yield return new PollBatch([summary], true, covered = last);
                continue;
            }

            small.Add(summary);
            bytes += size;
        }

        if (small.Count > 0 || last != covered)
        {
            yield return new PollBatch(small, false, last);
        }
    }

    /// <summary>Reads a batch of small mail in one FETCH; a message whose body cannot be read there is read alone (and fails alone).</summary>
    private async Task<Fetched> FetchAsync(MailKit.Net.Imap.ImapClient client, IMailFolder inbox, Cursor cursor, PollBatch batch, CancellationToken cancellationToken)
    {
        var fetched = new Fetched(batch.LastUid);
        if (batch.Messages.Count == 0)
        {
            return fetched;
        }

        var bodies = new Dictionary<uint, Stream>();
        try
        {
            await ((MailKit.Net.Imap.ImapFolder)inbox).GetStreamsAsync(batch.Messages.Select(m => m.UniqueId).ToList(), async (_, _, uid, stream, ct) =>
            {
                // The literal is MailKit's to dispose once this returns: copied (memory when small, else a file).
                var copy = await MailSpool.CopyAsync(stream, ct);
                if (!bodies.TryAdd(uid.Id, copy))
                {
                    await copy.DisposeAsync();
                }
            }, cancellationToken);

            foreach (var summary in batch.Messages)
            {
                if (bodies.Remove(summary.UniqueId.Id, out var body))
                {
                    fetched.Bodies.Add(summary.UniqueId, ProviderId(cursor, summary.UniqueId), body);
                    continue;
                }

                try
                {
                    // Not in the batch's answer (expunged meanwhile, or a body the server would not send): on its own.
                    fetched.Bodies.Add(summary.UniqueId, ProviderId(cursor, summary.UniqueId), await MailSpool.CopyAsync(await inbox.GetStreamAsync(summary.UniqueId, cancellationToken), cancellationToken));
                }
                catch (Exception ex) when (MailFaults.IsMessageFault(ex) && client.IsConnected)
                {
                    fetched.Bodies.Failed(summary.UniqueId, ProviderId(cursor, summary.UniqueId), ex);
                }
            }

            return fetched;
        }
        catch
        {
            await fetched.DisposeAsync();
            throw;
        }
        finally
        {
            foreach (var body in bodies.Values)
            {
                await body.DisposeAsync();
            }
        }
    }

    /// <summary>Stores a fetched batch (storage only: the IMAP connection is the fetch's meanwhile).</summary>
    private async Task<Batch> StoreAsync(Channel channel, Fetched fetched, InboundRouteCache routes, CancellationToken cancellationToken)
    {
        await using (fetched)
        {
            var outcomes = await ingestor.IngestBatchAsync(channel, fetched.Bodies, routes, cancellationToken);
            return new Batch(outcomes.Select(o => (o.Key, o.Attempt)).ToList(), fetched.LastUid);
        }
    }

    private async Task<Batch> IngestLargeAsync(MailKit.Net.Imap.ImapClient client, IMailFolder inbox, Channel channel, Cursor cursor, PollBatch batch, CancellationToken cancellationToken)
    {
        var outcomes = new List<(UniqueId Uid, IngestAttempt Attempt)>();
        foreach (var summary in batch.Messages)
        {
            try
            {
                outcomes.Add((summary.UniqueId, new IngestAttempt(await ingestor.IngestAsync(channel, ct => inbox.GetStreamAsync(summary.UniqueId, ct), ProviderId(cursor, summary.UniqueId), summary.Size, cancellationToken), null)));
            }
            catch (Exception ex) when (MailFaults.IsMessageFault(ex) && client.IsConnected)
            {
                outcomes.Add((summary.UniqueId, new IngestAttempt(null, ex)));
            }
        }

        return new Batch(outcomes, batch.LastUid);
    }

    /// <param name="LastUid">The highest UID the batch covers, messages left out included.</param>
    private sealed record PollBatch(List<IMessageSummary> Messages, bool Large, uint LastUid);

    private sealed record Batch(List<(UniqueId Uid, IngestAttempt Attempt)> Outcomes, uint LastUid);

    /// <summary>A batch's bodies, read and not yet stored (in UID order, as fetched): spools this owns until it is disposed.</summary>
    private sealed class Fetched(uint lastUid) : IAsyncDisposable
    {
        public uint LastUid { get; } = lastUid;

        public MailBatch<UniqueId> Bodies { get; } = new();

        public ValueTask DisposeAsync() => Bodies.DisposeAsync();
    }

    private static string ProviderId(Cursor cursor, UniqueId uid) => string.Create(CultureInfo.InvariantCulture, $"imap:{cursor.UidValidity}:{uid.Id}");


    [LoggerMessage(Level = LogLevel.Information, Message = "IMAP poll of channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the poll lease of channel {ChannelId}; it expires on its own")]
    private partial void LogReleaseFailed(Exception exception, string channelId);

    /// <summary>
    /// "identity:uidvalidity:lastuid", the whole IMAP cursor; identity is a hash of the server, port, login and folder
    /// (null in cursors written before it was kept, which are taken as this server's).
    /// </summary>
    private sealed record Cursor(string? Identity, uint UidValidity, uint LastUid)
    {
        public static Cursor Parse(string? s)
        {
            var parts = s?.Split(':');
            var (identity, numbers) = parts is [var i, _, _] ? (i, parts[1..]) : (null, parts);
            return numbers is [var v, var u] && uint.TryParse(v, CultureInfo.InvariantCulture, out var validity) && uint.TryParse(u, CultureInfo.InvariantCulture, out var last)
                ? new Cursor(identity, validity, last)
                : new Cursor(null, 0, 0);
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Identity}:{UidValidity}:{LastUid}");
    }
}
