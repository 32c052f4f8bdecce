using Azure;
using Azure.Data.Tables;
using Omni.Security;
using Omni.Storage;

namespace Omni.Credentials;

public interface ICredentialStore
{
    Task<IssuedKey<ManagementKey>> CreateManagementKeyAsync(string companyId, string name, IReadOnlyList<string> scopes, CancellationToken cancellationToken = default);

    Task<bool> RevokeManagementKeyAsync(string companyId, string keyId, CancellationToken cancellationToken = default);

    /// <summary>How many management keys the company has, for its quota.</summary>
    Task<int> CountManagementKeysAsync(string companyId, CancellationToken cancellationToken = default);

    Task<IssuedKey<ChannelApiKey>> CreateChannelKeyAsync(string companyId, string channelId, string name, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ChannelApiKey>> ListChannelKeysAsync(string companyId, string channelId, CancellationToken cancellationToken = default);

    Task<bool> RevokeChannelKeyAsync(string companyId, string channelId, string keyId, CancellationToken cancellationToken = default);

    Task RevokeAllChannelKeysAsync(string companyId, string channelId, CancellationToken cancellationToken = default);

    /// <summary>A bot's key (one per bot): its row sits beside the bot's id as a channel key's beside its channel.</summary>
    Task<IssuedKey<BotKey>> CreateBotKeyAsync(string companyId, string botId, CancellationToken cancellationToken = default);

    Task<bool> RevokeBotKeyAsync(string companyId, string botId, string keyId, CancellationToken cancellationToken = default);

    /// <summary>Finds the key a caller presented, by its hash; null for anything not issued or already revoked.</summary>
    Task<ResolvedCredential?> ResolveAsync(string token, CancellationToken cancellationToken = default);

    /// <summary>Keeps <c>lastUsedAt</c> current to within a few minutes without a write on every call.</summary>
    Task RecordUseAsync(ResolvedCredential credential, CancellationToken cancellationToken = default);
}

/// <summary>
/// Two tables: <c>Credentials</c> lists a company's keys (partition = company), <c>CredentialIndex</c> maps a
/// key's SHA-256 to its owner (partition = hash) so authentication is one point read. Revoking deletes the
/// index row, so the key fails on its very next use; nothing caches it.
/// </summary>
internal sealed class TableCredentialStore(TableServiceClient tables, TimeProvider clock) : ICredentialStore
{
    public const string ManagementPrefix = "omni_mk_";
    public const string ChannelPrefix = "omni_ck_";
    public const string BotPrefix = "omni_bk_";
    private static readonly TimeSpan LastUsedGranularity = TimeSpan.FromMinutes(5);

    private readonly TableClient _keys = tables.GetTableClient(StorageNames.CredentialsTable);
    private readonly TableClient _index = tables.GetTableClient(StorageNames.CredentialIndexTable);

    public async Task<IssuedKey<ManagementKey>> CreateManagementKeyAsync(string companyId, string name, IReadOnlyList<string> scopes, CancellationToken cancellationToken = default)
    {
        var id = Ids.New("mk");
        var token = TokenHash.NewToken(ManagementPrefix);
        var key = new ManagementKey(id, companyId, name, scopes, DisplayPrefix(token), clock.GetUtcNow(), null);
        await StoreAsync(companyId, id, null, null, name, scopes, key.Prefix, token, key.CreatedAt, CredentialKind.Management, cancellationToken);
        return new IssuedKey<ManagementKey>(key, token);
    }

    public async Task<IssuedKey<ChannelApiKey>> CreateChannelKeyAsync(string companyId, string channelId, string name, CancellationToken cancellationToken = default)
    {
        var id = Ids.New("ck");
        var token = TokenHash.NewToken(ChannelPrefix);
        var key = new ChannelApiKey(id, companyId, channelId, name, DisplayPrefix(token), clock.GetUtcNow(), null);
        await StoreAsync(companyId, id, channelId, null, name, [], key.Prefix, token, key.CreatedAt, CredentialKind.Channel, cancellationToken);
        return new IssuedKey<ChannelApiKey>(key, token);
    }

    public async Task<IssuedKey<BotKey>> CreateBotKeyAsync(string companyId, string botId, CancellationToken cancellationToken = default)
    {
        var id = Ids.New("bk");
        var token = TokenHash.NewToken(BotPrefix);
        var key = new BotKey(id, companyId, botId, DisplayPrefix(token), clock.GetUtcNow());
        await StoreAsync(companyId, id, null, botId, botId, [], key.Prefix, token, key.CreatedAt, CredentialKind.Bot, cancellationToken);
        return new IssuedKey<BotKey>(key, token);
    }

    public Task<bool> RevokeBotKeyAsync(string companyId, string botId, string keyId, CancellationToken cancellationToken = default) =>
        RevokeAsync(companyId, RowKey(keyId, botId), cancellationToken);

    public Task<bool> RevokeManagementKeyAsync(string companyId, string keyId, CancellationToken cancellationToken = default) =>
        RevokeAsync(companyId, RowKey(keyId, null), cancellationToken);

    public Task<bool> RevokeChannelKeyAsync(string companyId, string channelId, string keyId, CancellationToken cancellationToken = default) =>
        RevokeAsync(companyId, RowKey(keyId, channelId), cancellationToken);

    public async Task<int> CountManagementKeysAsync(string companyId, CancellationToken cancellationToken = default)
    {
        var count = 0;
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and Kind eq {nameof(CredentialKind.Management)}");
        await foreach (var _ in _keys.QueryEntitiesAsync(filter, select: ["RowKey"], cancellationToken: cancellationToken))
        {
            count++;
        }

        return count;
    }

    public async Task RevokeAllChannelKeysAsync(string companyId, string channelId, CancellationToken cancellationToken = default)
    {
        foreach (var key in await ListChannelKeysAsync(companyId, channelId, cancellationToken))
        {
            await RevokeChannelKeyAsync(companyId, channelId, key.Id, cancellationToken);
        }
    }

    public async Task<IReadOnlyList<ChannelApiKey>> ListChannelKeysAsync(string companyId, string channelId, CancellationToken cancellationToken = default)
    {
        // Row keys are "{channelId}|{keyId}": a range scan over one channel's keys.
        var from = channelId + "|";
        var to = channelId + "}";
        var items = new List<ChannelApiKey>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and RowKey gt {from} and RowKey lt {to}");
        await foreach (var e in _keys.QueryEntitiesAsync(filter, cancellationToken: cancellationToken))
        {
            items.Add(new ChannelApiKey(e.GetString("KeyId"), companyId, channelId, e.GetString("Name"), e.GetString("Prefix"),
                e.GetDateTimeOffset("CreatedAt") ?? default, e.GetDateTimeOffset("LastUsedAt")));
        }

        return items;
    }

    public async Task<ResolvedCredential?> ResolveAsync(string token, CancellationToken cancellationToken = default)
    {
        // Anything not shaped like our keys is rejected without a storage call.
        if (token.Length is < 40 or > 80 || !(token.StartsWith(ManagementPrefix, StringComparison.Ordinal) || token.StartsWith(ChannelPrefix, StringComparison.Ordinal)
            || token.StartsWith(BotPrefix, StringComparison.Ordinal)))
        {
            return null;
        }

        var hash = TokenHash.Of(token);
        var response = await _index.GetEntityIfExistsAsync<TableEntity>(hash, "", cancellationToken: cancellationToken);
        if (!response.HasValue || response.Value is not { } e)
        {
            return null;
        }

        var scopes = e.GetString("Scopes") is { Length: > 0 } s ? s.Split(',').ToHashSet(StringComparer.Ordinal) : [];
        return new ResolvedCredential(
            Enum.Parse<CredentialKind>(e.GetString("Kind")),
            e.GetString("CompanyId"),
            e.GetString("KeyId"),
            e.GetString("ChannelId"),
            e.GetString("Name"),
            scopes,
            e.GetDateTimeOffset("LastUsedAt"),
            hash)
        {
            BotId = e.GetString("BotId"),
        };
    }

    public async Task RecordUseAsync(ResolvedCredential credential, CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        if (credential.LastUsedAt is { } last && now - last < LastUsedGranularity)
        {
            return;
        }

        try
        {
            await Task.WhenAll(
                _index.UpdateEntityAsync(new TableEntity(credential.KeyHash, "") { ["LastUsedAt"] = now }, ETag.All, TableUpdateMode.Merge, cancellationToken),
                _keys.UpdateEntityAsync(new TableEntity(credential.CompanyId, RowKey(credential.KeyId, credential.ChannelId ?? credential.BotId)) { ["LastUsedAt"] = now }, ETag.All, TableUpdateMode.Merge, cancellationToken));
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Revoked between the check and now: nothing to record.
        }
    }

    private async Task StoreAsync(string companyId, string keyId, string? channelId, string? botId, string name, IReadOnlyList<string> scopes, string prefix, string token, DateTimeOffset createdAt, CredentialKind kind, CancellationToken cancellationToken)
    {
        var hash = TokenHash.Of(token);
        var scopeList = string.Join(',', scopes);
        // Index first: a listing row without an index row would show a key that cannot authenticate.
        await _index.AddEntityAsync(new TableEntity(hash, "")
        {
            ["Kind"] = kind.ToString(),
            ["CompanyId"] = companyId,
            ["KeyId"] = keyId,
            ["ChannelId"] = channelId,
            ["BotId"] = botId,
            ["Name"] = name,
            ["Scopes"] = scopeList,
        }, cancellationToken);
        await _keys.AddEntityAsync(new TableEntity(companyId, RowKey(keyId, channelId ?? botId))
        {
            ["Kind"] = kind.ToString(),
            ["KeyId"] = keyId,
            ["ChannelId"] = channelId,
            ["BotId"] = botId,
            ["Name"] = name,
            ["Scopes"] = scopeList,
            ["Prefix"] = prefix,
            ["Hash"] = hash,
            ["CreatedAt"] = createdAt,
        }, cancellationToken);
    }

    private async Task<bool> RevokeAsync(string companyId, string rowKey, CancellationToken cancellationToken)
    {
        var row = await _keys.GetEntityIfExistsAsync<TableEntity>(companyId, rowKey, cancellationToken: cancellationToken);
        if (!row.HasValue || row.Value is not { } e)
        {
            return false;
        }

        await _index.DeleteEntityAsync(e.GetString("Hash"), "", ETag.All, cancellationToken);
        await _keys.DeleteEntityAsync(companyId, rowKey, ETag.All, cancellationToken);
        return true;
    }

    // A channel's or a bot's keys sit under its id ("{ownerId}|{keyId}"); a management key under its own id.
    private static string RowKey(string keyId, string? ownerId) => ownerId is null ? keyId : $"{ownerId}|{keyId}";

    // Enough of the key to recognise it in a list; far too little to guess the rest.
    private static string DisplayPrefix(string token) => token[..(token.IndexOf('_', 5) + 7)];
}
