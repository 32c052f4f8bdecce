namespace Omni.Storage;

/// <summary>A channel whose provider refused its stored grant: only its owner's consent again brings it back.</summary>
public sealed record ChannelNeedingReconnect(string CompanyId, string ChannelId, string Type);

/// <summary>
/// A channel kind's index of its channels needing reconnect, read by the admin's <c>/api/health</c>: one partition's
/// query, never a scan of every tenant's channels.
/// </summary>
public interface IReconnectIndex
{
    Task<IReadOnlyList<ChannelNeedingReconnect>> ListAsync(CancellationToken cancellationToken = default);
}
