using Azure.Data.Tables;
using Omni.Channels;
using Omni.Storage;

namespace Omni.MercadoLivre;

/// <summary>
/// The channels whose seller must reconnect, one row each in one partition of <c>MercadoLivreReconnects</c>: added
/// when Mercado Livre refuses the refresh token (or there is none), removed when new tokens are stored (a consent or
/// a refresh with a newly saved refresh token), so the admin's health lists them with one query.
/// </summary>
internal sealed class MercadoLivreReconnects(TableServiceClient tables) : IReconnectIndex
{
    public const string TableName = "MercadoLivreReconnects";
    private const string Partition = "reconnect";

    // The health answer stays small: an operator with this many has a bigger problem than the list shows.
    private const int MaxListed = 100;

    private readonly TableClient _table = tables.GetTableClient(TableName);

    public async Task MarkAsync(Channel channel, CancellationToken cancellationToken = default) =>
        await _table.UpsertEntityAsync(new TableEntity(Partition, RowKey(channel)) { ["CompanyId"] = channel.CompanyId, ["ChannelId"] = channel.Id },
            TableUpdateMode.Replace, cancellationToken);

    public Task ClearAsync(Channel channel, CancellationToken cancellationToken = default) =>
        _table.DeleteIfExistsAsync(Partition, RowKey(channel), cancellationToken);

    public async Task<IReadOnlyList<ChannelNeedingReconnect>> ListAsync(CancellationToken cancellationToken = default)
    {
        var found = new List<ChannelNeedingReconnect>();
        await foreach (var row in _table.QueryEntitiesAsync(TableClient.CreateQueryFilter($"PartitionKey eq {Partition}"), maxPerPage: MaxListed, select: ["CompanyId", "ChannelId"], cancellationToken: cancellationToken))
        {
            found.Add(new ChannelNeedingReconnect(row.GetString("CompanyId") ?? "", row.GetString("ChannelId") ?? "", ChannelTypes.MercadoLivre));
            if (found.Count == MaxListed)
            {
                break;
            }
        }

        return found;
    }

    // Company and channel ids are the API's own (no '/', '\', '#' or '?'), so the pair is a valid, unique row key.
    private static string RowKey(Channel channel) => $"{channel.CompanyId}|{channel.Id}";
}
