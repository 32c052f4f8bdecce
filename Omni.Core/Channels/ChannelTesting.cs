namespace Omni.Channels;

/// <summary>One thing "Testar Configurações" tried: connecting, authenticating, reading a folder…</summary>
public sealed record ChannelCheck(string Name, bool Ok, long ElapsedMs, string? Error = null);

/// <summary>
/// Tries a channel's settings against the real service. One implementation per channel type; errors say what
/// failed and what to fix, and never echo a secret.
/// </summary>
public interface IChannelTester
{
    string ChannelType { get; }

    Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default);
}
