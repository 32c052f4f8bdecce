using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.Meta;

internal enum MetaWebhookOutcome
{
    /// <summary>Verified (GET: <see cref="MetaWebhookResult.Challenge"/> is the answer) or stored (POST): 200.</summary>
    Ok,

    /// <summary>No live Meta channel has this id (unknown, deleted, another kind or provider): 404, whichever it is.</summary>
    NotFound,

    /// <summary>The POST's X-Hub-Signature-256 is missing or does not match the app secret: 401, nothing stored.</summary>
    BadSignature,

    /// <summary>The GET is not a subscribe with this channel's verify token: 403.</summary>
    BadVerifyToken,
}

internal sealed record MetaWebhookResult(MetaWebhookOutcome Outcome, string? Challenge = null);

/// <summary>
/// Meta's webhook for one channel (<c>/api/providers/meta/{channelId}</c>): the subscription handshake, and events
/// signed with the Meta app's secret, checked over the exact bytes received (Meta signs its own serialisation, which
/// escapes non-ASCII as <c>\u00e7</c>: a re-serialised body would not match), then stored before they are acknowledged.
/// </summary>
internal sealed partial class MetaWebhooks(IChannelStore channels, MetaEventStore events, ILogger<MetaWebhooks> logger)
{
    private const string SignaturePrefix = "sha256=";

    public async Task<MetaWebhookResult> VerifyAsync(string channelId, string? mode, string? verifyToken, string? challenge, CancellationToken cancellationToken = default)
    {
        if (await FindAsync(channelId, cancellationToken) is not { } channel)
        {
            return new MetaWebhookResult(MetaWebhookOutcome.NotFound);
        }

        var expected = channels.RevealSecret(channel, "verifyToken");
        var ok = mode == "subscribe" && !string.IsNullOrEmpty(challenge) && expected is not null && verifyToken is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(verifyToken), Encoding.UTF8.GetBytes(expected));
        return ok ? new MetaWebhookResult(MetaWebhookOutcome.Ok, challenge) : new MetaWebhookResult(MetaWebhookOutcome.BadVerifyToken);
    }

    public async Task<MetaWebhookResult> ReceiveAsync(string channelId, ReadOnlyMemory<byte> body, string? signature, CancellationToken cancellationToken = default)
    {
        if (await FindAsync(channelId, cancellationToken) is not { } channel)
        {
            return new MetaWebhookResult(MetaWebhookOutcome.NotFound);
        }

        if (channels.RevealSecret(channel, "appSecret") is not { Length: > 0 } appSecret || !SignatureMatches(body.Span, signature, appSecret))
        {
            LogBadSignature(channel.Id, signature is null ? "missing" : "wrong");
            return new MetaWebhookResult(MetaWebhookOutcome.BadSignature);
        }

        await events.StoreAsync(channel.CompanyId, channel.Id, body, cancellationToken);
        return new MetaWebhookResult(MetaWebhookOutcome.Ok);
    }

    /// <summary><c>sha256=</c> + hex HMAC-SHA256 of <paramref name="body"/> keyed with the app secret, compared in constant time.</summary>
    internal static bool SignatureMatches(ReadOnlySpan<byte> body, string? signature, string appSecret)
    {
        if (signature is null || !signature.StartsWith(SignaturePrefix, StringComparison.OrdinalIgnoreCase) || signature.Length != SignaturePrefix.Length + 64)
        {
            return false;
        }

        Span<byte> given = stackalloc byte[32];
        if (Convert.FromHexString(signature.AsSpan(SignaturePrefix.Length), given, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[32];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(appSecret), body, expected);
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }

    /// <summary>The channel behind a provider URL: only a live whatsapp channel on Meta's Cloud API or an instagram channel.</summary>
    private async Task<Channel?> FindAsync(string channelId, CancellationToken cancellationToken)
    {
        if (await channels.FindCompanyAsync(channelId, cancellationToken) is not { } companyId
            || await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken) is not { } channel)
        {
            return null;
        }

        return channel.Type == ChannelTypes.Instagram || (channel.Type == ChannelTypes.WhatsApp && channel.GetString("provider") == "meta") ? channel : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Meta webhook for channel {ChannelId} refused: signature {Problem}")]
    private partial void LogBadSignature(string channelId, string problem);
}
