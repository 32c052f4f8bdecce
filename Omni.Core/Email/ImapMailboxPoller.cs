using System.Globalization;
using MailKit;
using MailKit.Search;
using Microsoft.Extensions.Logging;
using Omni.Channels;

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
    private const int BatchSize = 25;
    // What one batch reads ahead of storing it: disk (SpoolingImapClient), not memory, but bounded all the same.
    private const long PrefetchBytes = 16L * 1024 * 1024;

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
        try
        {
            foreach (var batch in found.Take(connector.Options.MaxMessagesPerPoll).Chunk(BatchSize))
            {
                var summaries = await inbox.FetchAsync(batch, MessageSummaryItems.UniqueId | MessageSummaryItems.Size | MessageSummaryItems.Flags, cancellationToken);
                var seen = new List<UniqueId>();
                var marked = new List<UniqueId>();
                // Read by someone else since the search: theirs, not ours.
                var pending = summaries.Where(s => s.Flags?.HasFlag(MessageFlags.Seen) != true).OrderBy(s => s.UniqueId.Id).ToList();
                foreach (var (uid, attempt) in await IngestBatchAsync(client, inbox, channel, cursor, pending, cancellationToken))
                {
                    var providerId = ProviderId(cursor, uid);
                    if (attempt.Fault is { } fault)
                    {
                        (state, var given) = await faults.FailedAsync(channel, state, providerId, fault, cancellationToken);
                        if (given)
                        {
                            quarantined++;
                            marked.Add(uid);
                        }
                        else
                        {
                            // Left unseen for the next poll; the cursor must not pass it.
                            held = Math.Min(held ?? uint.MaxValue, uid.Id);
                        }

                        continue;
                    }

                    state = MailFaults.Succeeded(state, providerId);
                    switch (attempt.Outcome)
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

                // Past a held message only what was stored is \Seen, so the next search finds just the held one again.
                cursor = cursor with { LastUid = held is { } h ? Math.Max(cursor.LastUid, Math.Min(h - 1, batch[^1].Id)) : batch[^1].Id };
                state = await states.SaveAsync(state, cursor.ToString(), connector.Options.LeaseDuration, cancellationToken);
            }
        }
        finally
        {
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
    }

    /// <summary>Reads and stores one batch, each message on its own: a message that fails is returned with its fault.</summary>
    private async Task<List<(UniqueId Uid, IngestAttempt Attempt)>> IngestBatchAsync(MailKit.Net.Imap.ImapClient client, IMailFolder inbox, Channel channel, Cursor cursor, List<IMessageSummary> pending, CancellationToken cancellationToken)
    {
        var outcomes = new List<(UniqueId Uid, IngestAttempt Attempt)>();
        var small = pending.All(s => s.Size <= connector.Options.MaxMessageBytes) && pending.Sum(s => (long)(s.Size ?? 0)) <= PrefetchBytes;
        var raw = new List<(string, Stream)>();
        var read = new List<UniqueId>();
        try
        {
            foreach (var summary in pending)
            {
                try
                {
                    if (small)
                    {
                        // Small mail: read the batch first (into files, SpoolingImapClient), then store it side by side
                        // (storage round trips dominate).
                        raw.Add((ProviderId(cursor, summary.UniqueId), await inbox.GetStreamAsync(summary.UniqueId, cancellationToken)));
                        read.Add(summary.UniqueId);
                    }
                    else
                    {
                        // One at a time, each within the ingest budget; oversized mail is streamed whole into the quarantine.
                        outcomes.Add((summary.UniqueId, new IngestAttempt(await ingestor.IngestAsync(channel, ct => inbox.GetStreamAsync(summary.UniqueId, ct), ProviderId(cursor, summary.UniqueId), summary.Size, cancellationToken), null)));
                    }
                }
                catch (Exception ex) when (MailFaults.IsMessageFault(ex) && client.IsConnected)
                {
                    outcomes.Add((summary.UniqueId, new IngestAttempt(null, ex)));
                }
            }

            if (raw.Count > 0)
            {
                var results = await ingestor.IngestManyAsync(channel, raw, cancellationToken: cancellationToken);
                outcomes.AddRange(read.Select((uid, i) => (uid, results[i])));
            }
        }
        finally
        {
            foreach (var (_, stream) in raw)
            {
                await stream.DisposeAsync();
            }
        }

        return outcomes.OrderBy(o => o.Uid.Id).ToList();
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
