using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Quotas;
using Omni.Storage;

namespace Omni.Email;

/// <summary>One of a company's poll slots, held by one poll until it gives it back or <c>LeaseDuration</c> passes.</summary>
public sealed record MailboxPollSlot(string CompanyId, string Slot, string Owner, string ETag);

/// <summary>
/// A semaphore per company across instances: <c>MaxConcurrentPollsPerCompany</c> rows (table
/// <c>MailboxPollSlots</c>, partition = company), each free, or leased to one poll with an expiry. A poll takes a
/// free or expired row under its ETag (one query of the company's rows, one write), renews it while it works and
/// deletes it when done; a crashed poll's slot frees itself when its lease runs out. So one company's many mailboxes
/// queue behind each other and never behind another company's.
/// </summary>
public sealed class MailboxPollSlots(TableServiceClient tables, IOptions<QuotaOptions> quotas, IOptions<EmailOptions> email, TimeProvider clock)
{
    public const string Table = "MailboxPollSlots";

    private readonly TableClient _table = tables.GetTableClient(Table);

    /// <summary>A free slot of the company, now held by this poll; null when every one is taken.</summary>
    public async Task<MailboxPollSlot?> TryTakeAsync(string companyId, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var rows = new Dictionary<string, TableEntity>(StringComparer.Ordinal);
        await foreach (var e in _table.QueryEntitiesAsync(TableClient.CreateQueryFilter($"PartitionKey eq {companyId}"), cancellationToken: cancellationToken))
        {
            rows[e.RowKey] = e;
        }

        var owner = Guid.NewGuid().ToString("N");
        var limit = quotas.Value.LimitOf(companyId, Quota.ConcurrentPolls);
        // In random order, so polls that start together try different slots instead of racing for the first.
        foreach (var slot in Enumerable.Range(0, limit).Select(i => $"slot-{i:D3}").OrderBy(_ => Random.Shared.Next()))
        {
            var row = rows.GetValueOrDefault(slot);
            if (row is not null && row.GetDateTimeOffset("Until") > now)
            {
                continue;
            }

            if (await TryWriteAsync(new MailboxPollSlot(companyId, slot, owner, row?.ETag.ToString() ?? ""), cancellationToken) is { } taken)
            {
                return taken;
            }
        }

        return null;
    }

    /// <summary>Extends the lease; null when it ran out and another poll took the slot.</summary>
    public Task<MailboxPollSlot?> RenewAsync(MailboxPollSlot slot, CancellationToken cancellationToken = default) => TryWriteAsync(slot, cancellationToken);

    /// <summary>Renews <paramref name="slot"/> until <paramref name="stop"/>; answers the slot as last renewed (null: lost).</summary>
    public async Task<MailboxPollSlot?> HoldAsync(MailboxPollSlot slot, CancellationToken stop)
    {
        MailboxPollSlot? held = slot;
        try
        {
            while (held is not null)
            {
                await Task.Delay(email.Value.LeaseDuration / 3, clock, stop);
                // Not cancelled midway: a renewal the service applied must leave its ETag here, or the release fails.
                held = await RenewAsync(held, CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return held;
    }

    /// <summary>Frees the slot, unless its lease ran out and another poll holds it now.</summary>
    public async Task ReleaseAsync(MailboxPollSlot slot, CancellationToken cancellationToken = default)
    {
        try
        {
            await _table.DeleteEntityAsync(slot.CompanyId, slot.Slot, new ETag(slot.ETag), cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
        }
    }

    /// <summary>Adds the row (no ETag) or replaces it as read; null when another poll wrote it first.</summary>
    private async Task<MailboxPollSlot?> TryWriteAsync(MailboxPollSlot slot, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(slot.CompanyId, slot.Slot) { ["Owner"] = slot.Owner, ["Until"] = clock.GetUtcNow() + email.Value.LeaseDuration };
        try
        {
            var response = slot.ETag.Length == 0
                ? await _table.AddEntityAsync(entity, cancellationToken)
                : await _table.UpdateEntityAsync(entity, new ETag(slot.ETag), TableUpdateMode.Replace, cancellationToken);
            return slot with { ETag = response.Headers.ETag?.ToString() ?? "" };
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 409 or 412)
        {
            return null;
        }
    }
}
