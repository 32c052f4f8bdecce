using Omni.Audit;
using Omni.Credentials;
using Omni.Quotas;
using Omni.Storage;

namespace Omni.Channels;

/// <summary>What issuing a channel API key came to.</summary>
internal enum IssueKeyOutcome
{
    Issued,
    ChannelNotFound,
    NotAnOmniChannel,
    NameTooLong,
    OverQuota,
}

/// <summary>The outcome, and with <see cref="IssueKeyOutcome.Issued"/> the key with its secret (shown once).</summary>
internal sealed record IssueKeyResult(IssueKeyOutcome Outcome, IssuedKey<ChannelApiKey>? Issued = null, QuotaDenial? Denial = null);

/// <summary>
/// The lifecycle of an omni channel's API keys: issue, list, revoke, each keyed by the caller's company and audited
/// under the acting credential. Only omni channels get keys: they are how an integrator's system calls in.
/// </summary>
internal sealed class ChannelApiKeys(IChannelStore channels, ICredentialStore credentials, IAuditLog audit, CompanyQuotas quotas)
{
    public const int MaxNameLength = 200;
    private const string DefaultName = "default";

    public async Task<IssueKeyResult> IssueAsync(string companyId, string channelId, string? name, string actor, CancellationToken cancellationToken = default)
    {
        var channel = await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return new(IssueKeyOutcome.ChannelNotFound);
        }

        if (channel.Type != ChannelTypes.Omni)
        {
            return new(IssueKeyOutcome.NotAnOmniChannel);
        }

        var keyName = name?.Trim() is { Length: > 0 } n ? n : DefaultName;
        if (keyName.Length > MaxNameLength)
        {
            return new(IssueKeyOutcome.NameTooLong);
        }

        var (issued, denial) = await quotas.CreateWithinAsync(companyId, QuotaCounter.ApiKeys(channelId),
            async ct => (await credentials.ListChannelKeysAsync(companyId, channelId, ct)).Count,
            ct => credentials.CreateChannelKeyAsync(companyId, channelId, keyName, ct), cancellationToken);
        if (issued is null)
        {
            return new(IssueKeyOutcome.OverQuota, Denial: denial);
        }

        await audit.WriteAsync(companyId, actor, "api-key.created", $"channels/{channelId}/api-keys/{issued.Key.Id}", ["name"], cancellationToken);
        return new(IssueKeyOutcome.Issued, issued);
    }

    /// <summary>The channel's keys (never the keys themselves); null when the company has no such channel.</summary>
    public async Task<IReadOnlyList<ChannelApiKey>?> ListAsync(string companyId, string channelId, CancellationToken cancellationToken = default) =>
        await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken) is null
            ? null
            : await credentials.ListChannelKeysAsync(companyId, channelId, cancellationToken);

    /// <summary>Revokes the key at once; false when the company's channel has no such key.</summary>
    public async Task<bool> RevokeAsync(string companyId, string channelId, string keyId, string actor, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(channelId) || !Ids.LooksValid(keyId)
            || !await credentials.RevokeChannelKeyAsync(companyId, channelId, keyId, cancellationToken))
        {
            return false;
        }

        await quotas.ReleaseAsync(companyId, QuotaCounter.ApiKeys(channelId), cancellationToken);
        await audit.WriteAsync(companyId, actor, "api-key.revoked", $"channels/{channelId}/api-keys/{keyId}", null, cancellationToken);
        return true;
    }
}
