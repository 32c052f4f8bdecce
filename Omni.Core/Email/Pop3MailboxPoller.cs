using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.Email;

/// <summary>
/// Polls an <c>email</c> channel over POP3, which has no \Seen flag: what was taken is tracked by UIDL in table rows
/// (<see cref="Pop3UidlStore"/>), and nothing is ever deleted from the server. The first poll of a mailbox (or of
/// a new server or account behind the channel) takes what is already there as read: only mail that arrives later
/// is ingested. The table cursor holds a hash of the server's last UIDL listing, so an idle poll (same listing)
/// costs one table read and USER/PASS, UIDL, QUIT, and writes nothing; when the server still lists that listing
/// first (mail only arrived), the UIDL rows are not read either. New mail is read in batches (pipelined RETRs) and
/// stored as IMAP's is (<see cref="MailIngestor.IngestBatchAsync{TKey}"/>); a UIDL is taken only once its mail is
/// stored, and the taken rows are written with the lease's renewal or release, in one transaction.
/// </summary>
internal sealed partial class Pop3MailboxPoller(
    MailConnector connector,
    IChannelStore channels,
    MailboxStateStore states,
    MailArchive archive,
    Pop3UidlStore uidls,
    MailIngestor ingestor,
    IngestBudget budget,
    MailFaults faults,
    TimeProvider clock,
    ILogger<Pop3MailboxPoller> logger)
{
    public async Task<PollResult> PollAsync(Channel channel, EmailSettings settings, CancellationToken cancellationToken = default)
    {
        var owner = Guid.NewGuid().ToString("N");
        var state = await states.GetAsync(channel, cancellationToken);
        if (state.IsLeasedByAnother(owner, clock.GetUtcNow()))
        {
            return new PollResult(0, 0, 0);
        }

        using var client = connector.CreatePop3();
        await connector.ConnectAsync(client, settings.Incoming, cancellationToken: cancellationToken);
        await connector.AuthenticateAsync(client, settings.Address, channels.RevealSecret(channel, EmailSettings.PasswordField) ?? "", cancellationToken: cancellationToken);
        var uids = await client.GetMessageUidsAsync(cancellationToken);
        var identity = settings.IncomingIdentity();
        var listing = HashOf(identity, uids);
        if (state.Cursor == listing)
        {
            await MailConnector.DisconnectQuietlyAsync(client);
            return new PollResult(0, 0, 0);
        }

        if (await states.LeaseOrDisconnectAsync(state, owner, connector.Options.LeaseDuration, client, cancellationToken) is not { } leased)
        {
            return new PollResult(0, 0, 0);
        }

        state = leased;
        Pop3Taken before;
        HashSet<string> taken;
        if (ListedBefore(state.Cursor, identity, uids) is { } count)
        {
            // The server still lists everything the last complete poll took, first and in order: what is new is what
            // follows, and the rows say no more than that listing (they are written with the cursor), so none is read.
            before = Pop3UidlStore.Of(channel, identity, uids.Take(count));
            taken = before.All();
        }
        else
        {
            before = await uidls.GetAsync(channel, identity, cancellationToken);
            taken = before.All();
            var cursorParts = state.Cursor?.Split(':') ?? [];
            if (cursorParts.Length == 3)
            {
                // Written before the set moved to table rows: it is still in its blob, and moves over with this poll.
                taken.UnionWith((await archive.GetAsync(MailArchive.StateName(channel, "pop3-uidl.txt"), cancellationToken))?.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries) ?? []);
            }
            else if (cursorParts is not [_, var polled, ..] || polled != identity)
            {
                // The first poll of this mailbox: what is on it was there before the channel, the history, not new mail.
                taken.UnionWith(uids);
                LogFirstPoll(channel.Id, uids.Count);
            }
        }

        var fresh = Enumerable.Range(0, uids.Count).Where(i => !taken.Contains(uids[i])).ToList();
        var todo = fresh.Take(connector.Options.MaxMessagesPerPoll).ToList();
        var complete = todo.Count == fresh.Count;
        var counts = new MailPollCounts();
        var routes = new InboundRouteCache();
        bool finished = false, held = false;
        var sizes = todo.Count > 0 ? await client.GetMessageSizesAsync(cancellationToken) : [];
        try
        {
            var batches = Batches(todo, sizes).ToList();
            for (var b = 0; b < batches.Count; b++)
            {
                var (indexes, large) = batches[b];
                var outcomes = large
                    ? [await IngestLargeAsync(client, channel, indexes[0], uids[indexes[0]], sizes, cancellationToken)]
                    : await ingestor.IngestBatchAsync(channel, await FetchAsync(client, indexes, uids, sizes, cancellationToken), routes, cancellationToken);
                foreach (var (index, providerId, attempt) in outcomes)
                {
                    (state, var outcome) = await faults.SettleAsync(channel, state, providerId, attempt, cancellationToken);
                    if (outcome is not { } done)
                    {
                        // Not taken: the next poll tries it again, until it is given up on.
                        held = true;
                        continue;
                    }

                    counts.Add(done);
                    // Stored durably above: only now is it taken.
                    taken.Add(uids[index]);
                }

                if (b < batches.Count - 1)
                {
                    // What was taken so far, with the lease renewed, in one transaction. The cursor says the rows are
                    // not a whole listing's until the poll is done.
                    (before, var writes) = Pop3UidlStore.Changes(channel, identity, before, uids, taken);
                    state = await states.SaveAsync(state, Unfinished(identity), connector.Options.LeaseDuration, writes, cancellationToken);
                }
            }

            finished = true;
        }
        finally
        {
            if (state.LeaseOwner == owner)
            {
                try
                {
                    // The taken rows go with the release, in one transaction. The listing hash is recorded only once
                    // everything on it was taken; otherwise the next poll continues (a finished first poll that could
                    // not take all still records whose mailbox the rows are). A failed poll saves nothing but the
                    // release: what it stored since the last save is a duplicate next time.
                    if (finished)
                    {
                        var (_, writes) = Pop3UidlStore.Changes(channel, identity, before, uids, taken);
                        await states.SaveAsync(state, complete && !held ? listing : Unfinished(identity), renewFor: null, writes, CancellationToken.None);
                    }
                    else
                    {
                        await states.SaveAsync(state, state.Cursor, renewFor: null, CancellationToken.None);
                    }
                }
                catch (Exception ex) when (ex is MailboxLeaseLostException or Azure.RequestFailedException)
                {
                    LogReleaseFailed(ex, channel.Id);
                }
            }
        }

        // QUIT without DELE: POP3 removes nothing unless told to, and the mailbox stays the customer's.
        await MailConnector.DisconnectQuietlyAsync(client);
        LogPolled(channel.Id, counts.Ingested, counts.Duplicates, counts.Quarantined);
        return counts.Result(complete ? null : TimeSpan.Zero);
    }

    /// <summary>The poll's messages in server order, in batches of small mail and of one large mail each (see <see cref="MailIngestor.IsLarge"/>).</summary>
    private IEnumerable<(List<int> Indexes, bool Large)> Batches(List<int> todo, IList<int> sizes)
    {
        var small = new List<int>();
        long bytes = 0;
        foreach (var index in todo)
        {
            long? size = index < sizes.Count ? sizes[index] : null;
            var large = ingestor.IsLarge(size);
            if (small.Count > 0 && (large || small.Count == MailIngestor.BatchSize || bytes + size > MailIngestor.BatchBytes))
            {
                yield return (small, false);
                small = [];
                bytes = 0;
            }

            if (large)
            {
                yield return ([index], true);
                continue;
            }

            small.Add(index);
            bytes += size!.Value;
        }

        if (small.Count > 0)
        {
            yield return (small, false);
        }
    }

    /// <summary>
    /// Reads a batch of small mail with pipelined RETRs (MailKit reads each into memory: the batch's sizes are held in
    /// the ingest budget meanwhile), each copied out before the next step. When the batch's read fails on a message,
    /// they are read one by one and the one that cannot be read fails alone.
    /// </summary>
    private async Task<MailBatch<int>> FetchAsync(MailKit.Net.Pop3.Pop3Client client, List<int> indexes, IList<string> uids, IList<int> sizes, CancellationToken cancellationToken)
    {
        var batch = new MailBatch<int>();
        try
        {
            using var held = await budget.ReserveAsync(indexes.Sum(i => (long)sizes[i]), cancellationToken);
            IList<Stream>? streams = null;
            try
            {
                streams = await client.GetStreamsAsync(indexes, headersOnly: false, cancellationToken);
            }
            catch (Exception ex) when (MailFaults.IsMessageFault(ex) && client.IsConnected)
            {
                // One at a time below.
            }

            for (var n = 0; n < indexes.Count; n++)
            {
                var providerId = ProviderId(uids[indexes[n]]);
                try
                {
                    await using var body = streams?[n] ?? await client.GetStreamAsync(indexes[n], headersOnly: false, cancellationToken);
                    batch.Add(indexes[n], providerId, await MailSpool.CopyAsync(body, cancellationToken));
                }
                catch (Exception ex) when (streams is null && MailFaults.IsMessageFault(ex) && client.IsConnected)
                {
                    batch.Failed(indexes[n], providerId, ex);
                }
            }

            return batch;
        }
        catch
        {
            await batch.DisposeAsync();
            throw;
        }
    }

    /// <summary>A large mail alone: MailKit reads a POP3 message whole into memory, so the budget holds its size before the fetch.</summary>
    private async Task<(int Index, string ProviderId, IngestAttempt Attempt)> IngestLargeAsync(MailKit.Net.Pop3.Pop3Client client, Channel channel, int index, string uid, IList<int> sizes, CancellationToken cancellationToken)
    {
        var providerId = ProviderId(uid);
        try
        {
            return (index, providerId, new IngestAttempt(await ingestor.IngestAsync(channel, ct => client.GetStreamAsync(index, headersOnly: false, ct), providerId, index < sizes.Count ? sizes[index] : null, cancellationToken), null));
        }
        catch (Exception ex) when (MailFaults.IsMessageFault(ex) && client.IsConnected)
        {
            return (index, providerId, new IngestAttempt(null, ex));
        }
    }

    /// <summary>
    /// How many UIDLs of the listing the cursor's complete listing was, when the server lists them still, first and in
    /// the same order (mail only arrived since); null when it does not, or the cursor names no complete listing.
    /// </summary>
    private static int? ListedBefore(string? cursor, string identity, IList<string> uids) =>
        cursor?.Split(':') is ["uidl", var polled, var n, _] && polled == identity && int.TryParse(n, System.Globalization.CultureInfo.InvariantCulture, out var count)
            && count <= uids.Count && HashOf(identity, uids.Take(count).ToList()) == cursor
            ? count
            : null;

    /// <summary>The cursor of a mailbox whose rows are not (yet) a whole listing's: which mailbox they are of, and no listing.</summary>
    private static string Unfinished(string identity) => "uidl:" + identity;

    private static string ProviderId(string uid) => "pop3:" + uid;

    private static string HashOf(string identity, IList<string> uids) =>
        "uidl:" + identity + ":" + uids.Count + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', uids))))[..32];

    [LoggerMessage(Level = LogLevel.Information, Message = "First POP3 poll of channel {ChannelId}: the {Count} messages already on the server are taken as read")]
    private partial void LogFirstPoll(string channelId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "POP3 poll of channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the poll lease of channel {ChannelId}; it expires on its own")]
    private partial void LogReleaseFailed(Exception exception, string channelId);
}
