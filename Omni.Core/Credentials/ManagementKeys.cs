using Omni.Audit;
using Omni.Quotas;
using Omni.Storage;

namespace Omni.Credentials;

/// <summary>The key, or the quota that refused it.</summary>
internal sealed record IssueManagementKeyResult(IssuedKey<ManagementKey>? Issued, QuotaDenial? Denial);

/// <summary>
/// A company's management keys as the platform admin issues and revokes them: within the company's
/// <c>MaxManagementKeysPerCompany</c>, audited under the admin.
/// </summary>
internal sealed class ManagementKeys(ICredentialStore credentials, IAuditLog audit, CompanyQuotas quotas)
{
    public async Task<IssueManagementKeyResult> IssueAsync(string companyId, string name, IReadOnlyList<string> scopes, string actor, CancellationToken cancellationToken = default)
    {
        var (issued, denial) = await quotas.CreateWithinAsync(companyId, QuotaCounter.ManagementKeys,
            ct => credentials.CountManagementKeysAsync(companyId, ct),
            ct => credentials.CreateManagementKeyAsync(companyId, name, scopes, ct), cancellationToken);
        if (issued is not null)
        {
            await audit.WriteAsync(companyId, actor, "management-key.created", $"management-keys/{issued.Key.Id}", ["name", "scopes"], cancellationToken);
        }

        return new(issued, denial);
    }

    /// <summary>Revokes the key at once; false when the company has no such key.</summary>
    public async Task<bool> RevokeAsync(string companyId, string keyId, string actor, CancellationToken cancellationToken = default)
    {
        if (!Ids.LooksValid(keyId) || !await credentials.RevokeManagementKeyAsync(companyId, keyId, cancellationToken))
        {
            return false;
        }

        await quotas.ReleaseAsync(companyId, QuotaCounter.ManagementKeys, cancellationToken);
        await audit.WriteAsync(companyId, actor, "management-key.revoked", $"management-keys/{keyId}", null, cancellationToken);
        return true;
    }
}
