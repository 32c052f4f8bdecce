using Azure;
using Azure.Data.Tables;
using Omni.Security;
using Omni.Storage;

namespace Omni.Bots;

/// <summary>A company's bots, keyed by the company (the partition) and the bot id.</summary>
public interface IBotStore
{
    /// <summary>Stores a new bot with its signing secret, sealed as channel secrets are.</summary>
    Task CreateAsync(Bot bot, string webhookSecret, CancellationToken cancellationToken = default);

    Task<Bot?> GetAsync(string companyId, string botId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<Bot>> ListAsync(string companyId, CancellationToken cancellationToken = default);

    /// <summary>Replaces name and URL; false when the bot is gone.</summary>
    Task<bool> UpdateAsync(Bot bot, CancellationToken cancellationToken = default);

    /// <summary>False when there was no such bot.</summary>
    Task<bool> DeleteAsync(string companyId, string botId, CancellationToken cancellationToken = default);

    /// <summary>The signing secret in clear, for a delivery; throws <see cref="System.Security.Cryptography.CryptographicException"/> when the secrets key changed.</summary>
    string RevealSecret(Bot bot);
}

internal sealed class TableBotStore(TableServiceClient tables, SecretProtector protector) : IBotStore
{
    public const string Table = "Bots";

    private readonly TableClient _table = tables.GetTableClient(Table);

    public Task CreateAsync(Bot bot, string webhookSecret, CancellationToken cancellationToken = default) =>
        _table.AddEntityAsync(ToEntity(bot with { ProtectedSecret = protector.Protect(webhookSecret, Purpose(bot)) }), cancellationToken);

    public async Task<Bot?> GetAsync(string companyId, string botId, CancellationToken cancellationToken = default) =>
        Ids.LooksValid(botId) && await _table.FindAsync(companyId, botId, cancellationToken) is { } e ? ToBot(e) : null;

    public async Task<IReadOnlyList<Bot>> ListAsync(string companyId, CancellationToken cancellationToken = default)
    {
        var items = new List<Bot>();
        await foreach (var e in _table.QueryEntitiesAsync(TableClient.CreateQueryFilter($"PartitionKey eq {companyId}"), cancellationToken: cancellationToken))
        {
            items.Add(ToBot(e));
        }

        return items;
    }

    public async Task<bool> UpdateAsync(Bot bot, CancellationToken cancellationToken = default)
    {
        var entity = new TableEntity(bot.CompanyId, bot.Id) { ["Name"] = bot.Name, ["WebhookUrl"] = bot.WebhookUrl, ["UpdatedAt"] = bot.UpdatedAt };
        try
        {
            await _table.UpdateEntityAsync(entity, ETag.All, TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    public async Task<bool> DeleteAsync(string companyId, string botId, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(botId))
        {
            return false;
        }

        try
        {
            await _table.DeleteEntityAsync(companyId, botId, ETag.All, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return false;
        }
    }

    public string RevealSecret(Bot bot) => protector.Unprotect(bot.ProtectedSecret, Purpose(bot));

    // Bound to the bot, as a channel secret is to its channel and field: a copied value does not decrypt elsewhere.
    private static string Purpose(Bot bot) => $"{bot.CompanyId}/{bot.Id}/webhookSecret";

    private static TableEntity ToEntity(Bot b) => new(b.CompanyId, b.Id)
    {
        ["Name"] = b.Name,
        ["WebhookUrl"] = b.WebhookUrl,
        ["WebhookSecret"] = b.ProtectedSecret,
        ["KeyId"] = b.KeyId,
        ["KeyPrefix"] = b.KeyPrefix,
        ["CreatedAt"] = b.CreatedAt,
        ["UpdatedAt"] = b.UpdatedAt,
    };

    private static Bot ToBot(TableEntity e) => new(e.RowKey, e.PartitionKey, e.GetString("Name"), e.GetString("WebhookUrl"), e.GetString("KeyId"),
        e.GetString("KeyPrefix"), e.GetDateTimeOffset("CreatedAt") ?? default, e.GetDateTimeOffset("UpdatedAt") ?? default)
    {
        ProtectedSecret = e.GetString("WebhookSecret") ?? "",
    };
}
