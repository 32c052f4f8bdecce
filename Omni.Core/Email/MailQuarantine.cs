using Azure.Data.Tables;
using Omni.Audit;
using Omni.Channels;
using Omni.Storage;

namespace Omni.Email;

/// <summary>A message that could not be ingested (too large, unparseable, no sender, unreadable, a reused Message-ID): kept, listed, never retried.</summary>
public sealed record QuarantinedMail(string Id, string CompanyId, string ChannelId, string Reason, long Size, string BlobName, string ProviderId, string? From, string? Subject, DateTimeOffset At);

/// <summary>
/// Keeps quarantined mail visible: a row per message in <c>MailQuarantine</c> (listed by
/// <c>GET .../channels/{channelId}/quarantine</c>) and a <c>mail.quarantined</c> audit event.
/// </summary>
public sealed class MailQuarantine(TableServiceClient tables, IAuditLog audit, TimeProvider clock)
{
    public const string Table = "MailQuarantine";
    public const string AuditActor = "system:email";

    private readonly TableClient _table = tables.GetTableClient(Table);

    public async Task<QuarantinedMail> RecordAsync(Channel channel, string id, string reason, long size, string blobName, string providerId, string? from, string? subject, CancellationToken cancellationToken = default)
    {
        var item = new QuarantinedMail(id, channel.CompanyId, channel.Id, reason, size, blobName, providerId, from, subject, clock.GetUtcNow());
        // Keyed by the message so a retried poll rewrites the same row instead of listing the mail twice.
        await _table.UpsertEntityAsync(new TableEntity(channel.CompanyId, $"{channel.Id}_{id}")
        {
            ["ChannelId"] = channel.Id,
            ["Id"] = id,
            ["Reason"] = reason,
            ["Size"] = size,
            ["BlobName"] = blobName,
            ["ProviderId"] = providerId,
            ["From"] = Truncate(from),
            ["Subject"] = Truncate(subject),
            ["At"] = item.At,
        }, TableUpdateMode.Replace, cancellationToken);
        await audit.WriteAsync(channel.CompanyId, AuditActor, "mail.quarantined", $"channels/{channel.Id}/quarantine/{id}", ["reason:" + reason], cancellationToken);
        return item;
    }

    public Task<PagedResult<QuarantinedMail>> ListAsync(string companyId, string channelId, int limit, string? continuationToken, CancellationToken cancellationToken = default)
    {
        // Row keys start with the channel id: a range scan within the company's partition.
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and RowKey ge {channelId + "_"} and RowKey lt {channelId + "`"}");
        return _table.ReadPageAsync(filter, limit, continuationToken, e => new QuarantinedMail(
            e.GetString("Id"), companyId, channelId, e.GetString("Reason"), e.GetInt64("Size") ?? 0, e.GetString("BlobName"), e.GetString("ProviderId"),
            e.GetString("From"), e.GetString("Subject"), e.GetDateTimeOffset("At") ?? default), cancellationToken);
    }

    /// <summary>The quarantine id of one message: the same on every retry of it, so a retried poll lists it once.</summary>
    public static string IdOf(Channel channel, string providerId) =>
        "q_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(channel.Id + "/" + providerId)))[..24];

    private static string? Truncate(string? s) => s is { Length: > 500 } ? s[..500] : s;
}
