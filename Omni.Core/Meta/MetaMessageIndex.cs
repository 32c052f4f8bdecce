using Azure.Data.Tables;

namespace Omni.Meta;

/// <summary>Where the app keeps an outbound message Meta knows by its id (a WhatsApp <c>wamid</c>, an Instagram <c>mid</c>).</summary>
public sealed record MetaMessageRef(string CompanyId, string ConversationId, string MessageId);

/// <summary>
/// Meta's message ids of what the app sent, by channel: a status webhook names only the <c>wamid</c>, and this finds
/// the message it is about with one point read. Written by the transport right after Meta accepted a send; a row
/// written twice (a redelivered send that found it went out) holds the same reference.
/// </summary>
public sealed class MetaMessageIndex(TableServiceClient tables)
{
    public const string TableName = "MetaMessages";

    private readonly TableClient _table = tables.GetTableClient(TableName);

    public async Task RecordAsync(string channelId, string providerMessageId, MetaMessageRef message, CancellationToken cancellationToken = default) =>
        await _table.UpsertEntityAsync(new TableEntity(channelId, Key(providerMessageId))
        {
            ["CompanyId"] = message.CompanyId,
            ["ConversationId"] = message.ConversationId,
            ["MessageId"] = message.MessageId,
        }, TableUpdateMode.Replace, cancellationToken);

    public async Task<MetaMessageRef?> FindAsync(string channelId, string providerMessageId, CancellationToken cancellationToken = default)
    {
        var row = await _table.GetEntityIfExistsAsync<TableEntity>(channelId, Key(providerMessageId), cancellationToken: cancellationToken);
        return row.HasValue && row.Value is { } e ? new MetaMessageRef(e.GetString("CompanyId"), e.GetString("ConversationId"), e.GetString("MessageId")) : null;
    }

    /// <summary>
    /// Meta's ids are base64 (<c>wamid.HBgM…=</c>) and may hold <c>/</c>, which a row key cannot: the key is the id
    /// with the four characters Table Storage forbids replaced, which base64 never produces except <c>/</c>.
    /// </summary>
    private static string Key(string providerMessageId) => providerMessageId.Replace('/', '_').Replace('\\', '-').Replace('#', '!').Replace('?', '$');
}
