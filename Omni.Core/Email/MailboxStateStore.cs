using Azure;
using System.Text.Json;
using Azure.Data.Tables;
using Omni.Channels;

namespace Omni.Email;

/// <summary>
/// Where a mailbox's poller keeps its place (<see cref="Cursor"/>, opaque to everyone but that poller) and who is
/// ingesting it right now. One row per mailbox; <see cref="ETag"/> null when the row does not exist yet.
/// <see cref="Failures"/> counts, per provider message id, the polls a message failed in (see <see cref="MailFaults"/>).
/// </summary>
public sealed record MailboxState(string CompanyId, string ChannelId, string? Cursor, string? LeaseOwner, DateTimeOffset? LeaseUntil, string? ETag,
    IReadOnlyDictionary<string, int>? Failures = null)
{
    public bool IsLeasedByAnother(string owner, DateTimeOffset now) => LeaseOwner is not null && LeaseOwner != owner && LeaseUntil > now;
}

/// <summary>The lease was taken over (it expired while this poller worked): stop, the new holder carries on from the saved cursor.</summary>
public sealed class MailboxLeaseLostException(string channelId) : Exception($"The poll lease of mailbox {channelId} was lost.");

/// <summary>
/// Per-mailbox cursor and lease in one table row, changed only with its ETag. The lease is taken only once a poll
/// has found work, so a poll that finds nothing writes nothing; two polls that both find work race on the ETag
/// and one of them stops.
/// </summary>
public sealed class MailboxStateStore(TableServiceClient tables, TimeProvider clock)
{
    public const string Table = "MailboxState";

    private readonly TableClient _table = tables.GetTableClient(Table);

    public async Task<MailboxState> GetAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(channel.CompanyId, channel.Id, cancellationToken: cancellationToken);
        if (!response.HasValue || response.Value is not { } e)
        {
            return new MailboxState(channel.CompanyId, channel.Id, null, null, null, null);
        }

        var failures = e.GetString("Failures") is { Length: > 0 } json ? JsonSerializer.Deserialize(json, EmailJsonContext.Default.DictionaryStringInt32) : null;
        return new MailboxState(channel.CompanyId, channel.Id, e.GetString("Cursor"), e.GetString("LeaseOwner"), e.GetDateTimeOffset("LeaseUntil"), e.ETag.ToString(), failures);
    }

    /// <summary>Leases the mailbox for this poll, or, when another instance holds it, ends the session and says so (null).</summary>
    public async Task<MailboxState?> LeaseOrDisconnectAsync(MailboxState state, string owner, TimeSpan duration, MailKit.IMailService client, CancellationToken cancellationToken = default)
    {
        var leased = await TryLeaseAsync(state, owner, duration, cancellationToken);
        if (leased is null)
        {
            await MailConnector.DisconnectQuietlyAsync(client);
        }

        return leased;
    }

    /// <summary>Takes the lease for <paramref name="owner"/>; null when another poller holds it or won the race.</summary>
    public async Task<MailboxState?> TryLeaseAsync(MailboxState state, string owner, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        if (state.IsLeasedByAnother(owner, now))
        {
            return null;
        }

        var leased = state with { LeaseOwner = owner, LeaseUntil = now + duration };
        try
        {
            return await WriteAsync(leased, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return null;
        }
    }

    /// <summary>Saves the cursor and renews the lease (or releases it); throws <see cref="MailboxLeaseLostException"/> when another poller took over.</summary>
    public async Task<MailboxState> SaveAsync(MailboxState state, string? cursor, TimeSpan? renewFor, CancellationToken cancellationToken = default)
    {
        try
        {
            return await WriteAsync(Next(state, cursor, renewFor), cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            throw new MailboxLeaseLostException(state.ChannelId);
        }
    }

    /// <summary>
    /// <see cref="SaveAsync(MailboxState, string?, TimeSpan?, CancellationToken)"/> together with other rows of this table in the
    /// mailbox's company partition (a poller's own rows, e.g. what POP3 took), in one entity-group transaction: the
    /// rows and the cursor that describes them change together or not at all, for one request. More than one
    /// transaction holds go first, the state row with the last.
    /// </summary>
    public async Task<MailboxState> SaveAsync(MailboxState state, string? cursor, TimeSpan? renewFor, IReadOnlyList<TableTransactionAction> alongside, CancellationToken cancellationToken = default)
    {
        if (alongside.Count == 0)
        {
            return await SaveAsync(state, cursor, renewFor, cancellationToken);
        }

        var next = Next(state, cursor, renewFor);
        var entity = EntityOf(next);
        var own = next.ETag is { } etag
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, new ETag(etag))
            : new TableTransactionAction(TableTransactionActionType.Add, entity);
        var chunks = alongside.Chunk(RowsATransaction).ToList();
        try
        {
            foreach (var chunk in chunks[..^1])
            {
                await _table.SubmitTransactionAsync(chunk, cancellationToken);
            }

            var responses = await _table.SubmitTransactionAsync([.. chunks[^1], own], cancellationToken);
            return next with { ETag = responses.Value[^1].Headers.ETag?.ToString() };
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            throw new MailboxLeaseLostException(state.ChannelId);
        }
    }

    private MailboxState Next(MailboxState state, string? cursor, TimeSpan? renewFor) => state with
    {
        Cursor = cursor,
        LeaseOwner = renewFor is null ? null : state.LeaseOwner,
        LeaseUntil = renewFor is { } d ? clock.GetUtcNow() + d : null,
    };

    // A transaction carries at most 100 actions and 4 MiB: 50 rows of up to 64 KiB stay well inside both.
    private const int RowsATransaction = 50;

    private static TableEntity EntityOf(MailboxState state) => new(state.CompanyId, state.ChannelId)
    {
        ["Cursor"] = state.Cursor,
        ["LeaseOwner"] = state.LeaseOwner,
        ["LeaseUntil"] = state.LeaseUntil,
        ["Failures"] = state.Failures is { Count: > 0 } f ? JsonSerializer.Serialize(f.ToDictionary(), EmailJsonContext.Default.DictionaryStringInt32) : null,
    };

    private async Task<MailboxState> WriteAsync(MailboxState state, CancellationToken cancellationToken)
    {
        var entity = EntityOf(state);
        var response = state.ETag is { } etag
            ? await _table.UpdateEntityAsync(entity, new ETag(etag), TableUpdateMode.Replace, cancellationToken)
            : await _table.AddEntityAsync(entity, cancellationToken);
        return state with { ETag = response.Headers.ETag?.ToString() };
    }
}
