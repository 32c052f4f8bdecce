using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Data.Tables;
using Omni.Security;
using Omni.Storage;

namespace Omni.Channels;

public interface IChannelStore
{
    /// <summary>Saves a new channel; <paramref name="secrets"/> are plaintext here and encrypted before they are stored.</summary>
    Task<Channel> CreateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default);

    /// <summary>A channel of that company; null when it does not exist, belongs to another company, or was deleted (unless asked for).</summary>
    Task<Channel?> GetAsync(string companyId, string channelId, bool includeDeleted = false, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<Channel>> ListAsync(string companyId, string? type = null, CancellationToken cancellationToken = default);

    /// <summary>Every live channel of the given types, across companies: for the timers that fan work out.</summary>
    IAsyncEnumerable<Channel> ListAllAsync(IReadOnlyCollection<string> types, CancellationToken cancellationToken = default);

    /// <summary>Which company owns a channel, for callers that know only the channel (provider webhooks).</summary>
    Task<string?> FindCompanyAsync(string channelId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the channel if it has not changed since it was read (its ETag); secrets given here replace the
    /// stored ones with the same name, the rest are kept. Throws <see cref="StorageConflictException"/> when another
    /// writer changed the channel first.
    /// </summary>
    Task<Channel> UpdateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default);

    /// <summary>The plaintext of a secret field, for the adapter that uses it; never for a response or a log.</summary>
    string? RevealSecret(Channel channel, string field);
}

internal sealed class TableChannelStore(TableServiceClient tables, SecretProtector protector) : IChannelStore
{
    private readonly TableClient _channels = tables.GetTableClient(StorageNames.ChannelsTable);
    private readonly TableClient _directory = tables.GetTableClient(StorageNames.ChannelDirectoryTable);

    public async Task<Channel> CreateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default)
    {
        channel = channel with { ProtectedSecrets = Protect(channel, secrets, new Dictionary<string, string>()) };
        // The directory row first: a channel must never exist that provider webhooks cannot find.
        await _directory.UpsertEntityAsync(new TableEntity(channel.Id, "") { ["CompanyId"] = channel.CompanyId }, TableUpdateMode.Replace, cancellationToken);
        var response = await _channels.AddEntityAsync(ToEntity(channel), cancellationToken);
        return channel with { ETag = response.Headers.ETag?.ToString() };
    }

    public async Task<Channel?> GetAsync(string companyId, string channelId, bool includeDeleted = false, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(channelId))
        {
            return null;
        }

        var response = await _channels.GetEntityIfExistsAsync<TableEntity>(companyId, channelId, cancellationToken: cancellationToken);
        return response.HasValue && response.Value is { } e && FromEntity(e) is var channel && (includeDeleted || !channel.IsDeleted) ? channel : null;
    }

    public async Task<IReadOnlyList<Channel>> ListAsync(string companyId, string? type = null, CancellationToken cancellationToken = default)
    {
        var filter = type is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {companyId}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {companyId} and Type eq {type}");
        var items = new List<Channel>();
        await foreach (var e in _channels.QueryEntitiesAsync(filter, cancellationToken: cancellationToken))
        {
            var channel = FromEntity(e);
            if (!channel.IsDeleted)
            {
                items.Add(channel);
            }
        }

        return items;
    }

    public async IAsyncEnumerable<Channel> ListAllAsync(IReadOnlyCollection<string> types, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var filter = string.Join(" or ", types.Select(t => TableClient.CreateQueryFilter($"Type eq {t}")));
        await foreach (var e in _channels.QueryEntitiesAsync(filter, cancellationToken: cancellationToken))
        {
            var channel = FromEntity(e);
            if (!channel.IsDeleted)
            {
                yield return channel;
            }
        }
    }

    public async Task<string?> FindCompanyAsync(string channelId, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(channelId))
        {
            return null;
        }

        var response = await _directory.GetEntityIfExistsAsync<TableEntity>(channelId, "", cancellationToken: cancellationToken);
        return response.HasValue ? response.Value?.GetString("CompanyId") : null;
    }

    public async Task<Channel> UpdateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default)
    {
        channel = channel with { ProtectedSecrets = Protect(channel, secrets, channel.ProtectedSecrets) };
        var etag = channel.ETag is { } tag ? new ETag(tag) : ETag.All;
        try
        {
            var response = await _channels.UpdateEntityAsync(ToEntity(channel), etag, TableUpdateMode.Replace, cancellationToken);
            return channel with { ETag = response.Headers.ETag?.ToString() };
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new StorageConflictException($"Channel {channel.Id} was changed by another writer since it was read.", ex);
        }
    }

    public string? RevealSecret(Channel channel, string field) =>
        channel.ProtectedSecrets.TryGetValue(field, out var value) ? protector.Unprotect(value, Purpose(channel, field)) : null;

    private Dictionary<string, string> Protect(Channel channel, IReadOnlyDictionary<string, string> plaintext, IReadOnlyDictionary<string, string> current)
    {
        var result = new Dictionary<string, string>(current, StringComparer.Ordinal);
        foreach (var (field, value) in plaintext)
        {
            result[field] = protector.Protect(value, Purpose(channel, field));
        }

        return result;
    }

    // Binding the ciphertext to its owner means a copied value cannot be replayed onto another channel or field.
    private static string Purpose(Channel channel, string field) => $"{channel.CompanyId}/{channel.Id}/{field}";

    private static TableEntity ToEntity(Channel c) => new(c.CompanyId, c.Id)
    {
        ["Type"] = c.Type,
        ["Name"] = c.Name,
        ["ServiceId"] = c.ServiceId,
        // Binary, not string: a string property is capped at 32K characters, a binary one at 64 KiB of UTF-8.
        ["Settings"] = Encoding.UTF8.GetBytes(c.Settings.ToJsonString()),
        ["Secrets"] = JsonSerializer.Serialize(c.ProtectedSecrets, ChannelJsonContext.Default.IReadOnlyDictionaryStringString),
        ["CreatedAt"] = c.CreatedAt,
        ["UpdatedAt"] = c.UpdatedAt,
        ["DeletedAt"] = c.DeletedAt,
        ["WebhookDisabledAt"] = c.WebhookDisabledAt,
        ["PreviousWebhookSecretExpiresAt"] = c.PreviousWebhookSecretExpiresAt,
    };

    private static Channel FromEntity(TableEntity e) => new(
        e.RowKey,
        e.PartitionKey,
        e.GetString("Type"),
        e.GetString("Name"),
        e.GetString("ServiceId"),
        JsonNode.Parse(e.GetBinary("Settings"))?.AsObject() ?? [],
        JsonSerializer.Deserialize(e.GetString("Secrets") ?? "{}", ChannelJsonContext.Default.IReadOnlyDictionaryStringString) ?? new Dictionary<string, string>(),
        e.GetDateTimeOffset("CreatedAt") ?? default,
        e.GetDateTimeOffset("UpdatedAt") ?? default)
    {
        DeletedAt = e.GetDateTimeOffset("DeletedAt"),
        WebhookDisabledAt = e.GetDateTimeOffset("WebhookDisabledAt"),
        PreviousWebhookSecretExpiresAt = e.GetDateTimeOffset("PreviousWebhookSecretExpiresAt"),
        ETag = e.ETag.ToString(),
    };
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
internal sealed partial class ChannelJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
