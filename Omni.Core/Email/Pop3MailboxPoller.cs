using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.Email;

/// <summary>
/// Polls an <c>email</c> channel over POP3, which has no \Seen flag: what was taken is tracked by UIDL in table rows
/// (<see cref="Pop3UidlStore"/>), and nothing is ever deleted from the server. The first poll of a mailbox (or of
/// a new server or account behind the channel) takes what is already there as read: only mail that arrives later
/// is ingested. The table cursor holds a hash of the server's last UIDL listing, so an idle poll (same listing)
/// costs one table read and USER/PASS, UIDL, QUIT, and writes nothing.
/// </summary>
internal sealed partial class Pop3MailboxPoller(
    MailConnector connector,
    IChannelStore channels,
    MailboxStateStore states,
    MailArchive archive,
    Pop3UidlStore uidls,
    MailIngestor ingestor,
    MailFaults faults,
    TimeProvider clock,
    ILogger<Pop3MailboxPoller> logger)
{
    private const int SaveEvery = 25;

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
        var before = await uidls.GetAsync(channel, identity, cancellationToken);
        var taken = before.All();
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

        var fresh = Enumerable.Range(0, uids.Count).Where(i => !taken.Contains(uids[i])).ToList();
        var todo = fresh.Take(connector.Options.MaxMessagesPerPoll).ToList();
        var complete = todo.Count == fresh.Count;
        int ingested = 0, duplicates = 0, quarantined = 0, sinceSave = 0;
        bool finished = false, held = false;
        var sizes = todo.Count > 0 ? await client.GetMessageSizesAsync(cancellationToken) : [];
        try
        {
            foreach (var index in todo)
            {
                var providerId = "pop3:" + uids[index];
                IngestOutcome outcome;
                try
                {
                    // MailKit reads a POP3 message whole into memory: the ingest budget holds its size before the fetch.
                    outcome = await ingestor.IngestAsync(channel, ct => client.GetStreamAsync(index, headersOnly: false, ct), providerId, index < sizes.Count ? sizes[index] : null, cancellationToken);
                    state = MailFaults.Succeeded(state, providerId);
                }
                catch (Exception ex) when (MailFaults.IsMessageFault(ex) && client.IsConnected)
                {
                    (state, var given) = await faults.FailedAsync(channel, state, providerId, ex, cancellationToken);
                    // Not taken: the next poll tries it again, until it is given up on.
                    held |= !given;
                    outcome = IngestOutcome.Quarantined;
                    if (!given)
                    {
                        continue;
                    }
                }

                switch (outcome)
                {
                    case IngestOutcome.Ingested: ingested++; break;
                    case IngestOutcome.Duplicate: duplicates++; break;
                    default: quarantined++; break;
                }

                taken.Add(uids[index]);
                if (++sinceSave == SaveEvery)
                {
                    sinceSave = 0;
                    before = await uidls.SaveAsync(channel, identity, before, uids, taken, cancellationToken);
                    state = await states.SaveAsync(state, state.Cursor, connector.Options.LeaseDuration, cancellationToken);
                }
            }

            await uidls.SaveAsync(channel, identity, before, uids, taken, cancellationToken);
            finished = true;
        }
        finally
        {
            if (state.LeaseOwner == owner)
            {
                try
                {
                    // The listing hash is recorded only once everything on it was taken; otherwise the next poll continues
                    // (a finished first poll that could not take all still records whose mailbox the rows are).
                    await states.SaveAsync(state, !finished ? state.Cursor : complete && !held ? listing : state.Cursor ?? "uidl:" + identity, renewFor: null, CancellationToken.None);
                }
                catch (Exception ex) when (ex is MailboxLeaseLostException or Azure.RequestFailedException)
                {
                    LogReleaseFailed(ex, channel.Id);
                }
            }
        }

        // QUIT without DELE: POP3 removes nothing unless told to, and the mailbox stays the customer's.
        await MailConnector.DisconnectQuietlyAsync(client);
        LogPolled(channel.Id, ingested, duplicates, quarantined);
        return new PollResult(ingested, duplicates, quarantined, complete ? null : TimeSpan.Zero);
    }

    private static string HashOf(string identity, IList<string> uids) =>
        "uidl:" + identity + ":" + uids.Count + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', uids))))[..32];

    [LoggerMessage(Level = LogLevel.Information, Message = "First POP3 poll of channel {ChannelId}: the {Count} messages already on the server are taken as read")]
    private partial void LogFirstPoll(string channelId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "POP3 poll of channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the poll lease of channel {ChannelId}; it expires on its own")]
    private partial void LogReleaseFailed(Exception exception, string channelId);
}
