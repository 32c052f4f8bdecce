using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Omni.Security;
using Omni.Storage;

namespace Omni.Channels;

/// <summary>What one re-wrap pass did. <see cref="Complete"/>: nothing live is left under another key, so old keys can go.</summary>
public sealed record SecretRewrapResult(string CurrentKeyId, int Channels, int Rewrapped, int AlreadyCurrent, int Busy, IReadOnlyList<UnreadableSecret> Unreadable)
{
    public bool Complete => Busy == 0 && Unreadable.Count == 0;
}

/// <summary>A stored secret this app cannot decrypt, so it cannot move it: add <see cref="KeyId"/> back, or have it saved again.</summary>
public sealed record UnreadableSecret(string CompanyId, string ChannelId, string Field, string KeyId);

/// <summary>
/// Moves every live channel's stored secrets to the current secrets key, so an old key can be removed from the ring.
/// Each channel is rewritten only when a secret of it is under another key, guarded by the ETag it was read with:
/// a concurrent edit wins, and the channel is read again and re-wrapped from there. Safe to run again at any time.
/// Deleted channels are left as they are: nothing reads their secrets again.
/// </summary>
public sealed partial class SecretRewrap(IChannelStore channels, ChannelKinds kinds, SecretProtector protector, ILogger<SecretRewrap> logger)
{
    // A channel edited this often during one pass is left for the next pass rather than retried without end.
    private const int Attempts = 5;

    public async Task<SecretRewrapResult> RewrapAllAsync(CancellationToken cancellationToken = default)
    {
        int count = 0, rewrapped = 0, current = 0, busy = 0;
        var unreadable = new List<UnreadableSecret>();
        await foreach (var channel in channels.ListAllAsync(kinds.Types, cancellationToken))
        {
            count++;
            var outcome = await RewrapChannelAsync(channel, cancellationToken);
            rewrapped += outcome.Rewrapped;
            current += outcome.AlreadyCurrent;
            busy += outcome.Busy ? 1 : 0;
            unreadable.AddRange(outcome.Unreadable);
        }

        var result = new SecretRewrapResult(protector.CurrentKeyId, count, rewrapped, current, busy, unreadable);
        LogPass(result.CurrentKeyId, count, rewrapped, unreadable.Count, busy);
        return result;
    }

    private async Task<ChannelOutcome> RewrapChannelAsync(Channel channel, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var plaintext = new Dictionary<string, string>(StringComparer.Ordinal);
            var unreadable = new List<UnreadableSecret>();
            foreach (var (field, value) in channel.ProtectedSecrets)
            {
                if (Stale(value) is not { } keyId)
                {
                    continue;
                }

                try
                {
                    plaintext[field] = channels.RevealSecret(channel, field)!;
                }
                catch (CryptographicException)
                {
                    LogUnreadable(channel.Id, field, keyId);
                    unreadable.Add(new UnreadableSecret(channel.CompanyId, channel.Id, field, keyId));
                }
            }

            var alreadyCurrent = channel.ProtectedSecrets.Count - plaintext.Count - unreadable.Count;
            if (plaintext.Count == 0)
            {
                return new ChannelOutcome(0, alreadyCurrent, false, unreadable);
            }

            try
            {
                // The store seals the given plaintext with the current key and keeps every other field as stored.
                await channels.UpdateAsync(channel, plaintext, cancellationToken);
                return new ChannelOutcome(plaintext.Count, alreadyCurrent, false, unreadable);
            }
            catch (StorageConflictException)
            {
                var fresh = attempt < Attempts ? await channels.GetAsync(channel.CompanyId, channel.Id, cancellationToken: cancellationToken) : null;
                if (fresh is null)
                {
                    // Deleted meanwhile (nothing to do), or edited on every attempt (the next pass takes it).
                    return new ChannelOutcome(0, alreadyCurrent, attempt >= Attempts, unreadable);
                }

                channel = fresh;
            }
        }
    }

    /// <summary>The key id of a value not under the current key; null when it is current.</summary>
    private string? Stale(string value)
    {
        string keyId;
        try
        {
            keyId = SecretProtector.KeyIdOf(value);
        }
        catch (CryptographicException)
        {
            return "unknown";
        }

        return keyId == protector.CurrentKeyId ? null : keyId;
    }

    private sealed record ChannelOutcome(int Rewrapped, int AlreadyCurrent, bool Busy, IReadOnlyList<UnreadableSecret> Unreadable);

    [LoggerMessage(Level = LogLevel.Information, Message = "Secrets re-wrap to key {KeyId}: {Channels} channels, {Rewrapped} secrets re-wrapped, {Unreadable} unreadable, {Busy} channels busy")]
    private partial void LogPass(string keyId, int channels, int rewrapped, int unreadable, int busy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Secrets re-wrap: secret {Field} of channel {ChannelId} is under key {KeyId}, which this app cannot read; add that key back or save the secret again")]
    private partial void LogUnreadable(string channelId, string field, string keyId);
}
