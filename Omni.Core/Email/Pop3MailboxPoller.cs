using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.Email;

/// <summary>
/// Polls an <c>email</c> channel over POP3, which has no \Seen flag: what was taken is tracked by UIDL in Blob
/// Storage, and nothing is ever deleted from the server. The table cursor holds a hash of the server's last UIDL
/// listing, so an idle poll (same listing) costs one table read and USER/PASS, UIDL, QUIT, and writes nothing.
/// </summary>
internal sealed partial class Pop3MailboxPoller(
    MailConnector connector,
    IChannelStore channels,
    MailboxStateStore states,
    MailArchive archive,
    MailIngestor ingestor,
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
        var listing = HashOf(uids);
        if (state.Cursor == listing)
        {
            await MailConnector.DisconnectQuietlyAsync(client);
            return new PollResult(0, 0, 0);
        }

        var leased = await states.TryLeaseAsync(state, owner, connector.Options.LeaseDuration, cancellationToken);
        if (leased is null)
        {
            await MailConnector.DisconnectQuietlyAsync(client);
            return new PollResult(0, 0, 0);
        }

        state = leased;
        var setBlob = MailArchive.StateName(channel, "pop3-uidl.txt");
        var taken = (await archive.GetAsync(setBlob, cancellationToken))?.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            ?? new HashSet<string>(StringComparer.Ordinal);
        var fresh = Enumerable.Range(0, uids.Count).Where(i => !taken.Contains(uids[i])).ToList();
        var todo = fresh.Take(connector.Options.MaxMessagesPerPoll).ToList();
        var complete = todo.Count == fresh.Count;
        int ingested = 0, duplicates = 0, quarantined = 0, sinceSave = 0;
        var finished = false;
        var sizes = todo.Count > 0 ? await client.GetMessageSizesAsync(cancellationToken) : [];
        try
        {
            foreach (var index in todo)
            {
                IngestOutcome outcome;
                using (var stream = await client.GetStreamAsync(index, headersOnly: false, cancellationToken))
                {
                    outcome = await ingestor.IngestAsync(channel, stream, "pop3:" + uids[index], index < sizes.Count ? sizes[index] : null, cancellationToken);
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
                    await SaveSetAsync(setBlob, taken, uids, cancellationToken);
                    state = await states.SaveAsync(state, state.Cursor, connector.Options.LeaseDuration, cancellationToken);
                }
            }

            await SaveSetAsync(setBlob, taken, uids, cancellationToken);
            finished = true;
        }
        finally
        {
            if (state.LeaseOwner == owner)
            {
                try
                {
                    // The listing hash is recorded only once everything on it was taken; otherwise the next poll continues.
                    await states.SaveAsync(state, finished && complete ? listing : state.Cursor, renewFor: null, CancellationToken.None);
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

    // Only UIDLs still on the server are kept, so the set does not grow forever when the user deletes mail elsewhere.
    private Task SaveSetAsync(string blob, HashSet<string> taken, IList<string> onServer, CancellationToken cancellationToken) =>
        archive.PutAsync(blob, new BinaryData(string.Join('\n', onServer.Where(taken.Contains))), "text/plain", cancellationToken);

    private static string HashOf(IList<string> uids) =>
        "uidl:" + uids.Count + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', uids))))[..32];


    [LoggerMessage(Level = LogLevel.Information, Message = "POP3 poll of channel {ChannelId}: {Ingested} ingested, {Duplicates} duplicates, {Quarantined} quarantined")]
    private partial void LogPolled(string channelId, int ingested, int duplicates, int quarantined);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the poll lease of channel {ChannelId}; it expires on its own")]
    private partial void LogReleaseFailed(Exception exception, string channelId);
}
