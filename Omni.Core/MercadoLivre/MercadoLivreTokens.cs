using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Storage;
using Omni.Telemetry;

namespace Omni.MercadoLivre;

/// <summary>An access token to call Mercado Livre with, or why there is none (<see cref="Reconnect"/>: only the seller's consent again helps).</summary>
internal sealed record MercadoLivreToken(string? AccessToken, string? Problem = null, bool Reconnect = false, TimeSpan? RetryAfter = null)
{
    public const string ReconnectAdvice = "The seller must reconnect: open GET …/channels/{channelId}/mercadolivre/authorize, or save the channel with a new refreshToken.";
}

/// <summary>
/// The seller's tokens, kept as the channel's secrets (encrypted like every channel secret, under the channel row's
/// ETag): the refresh token, the access token with its expiry, and a short lease. The refresh token is single-use, so
/// before spending it an instance takes the lease by an ETag write; whoever loses that race re-reads the row and uses
/// the winner's access token. The new tokens are stored in one write, which also drops the lease, so the old refresh
/// token is forgotten only when the new one is stored. An access token is used until shortly before it expires.
/// </summary>
internal sealed partial class MercadoLivreTokens(
    IChannelStore channels,
    MercadoLivreApi api,
    MercadoLivreReconnects reconnects,
    IOptionsMonitor<MercadoLivreOptions> options,
    TimeProvider clock,
    ILogger<MercadoLivreTokens> logger)
{
    public const string RefreshTokenField = "refreshToken";
    public const string ClientSecretField = "clientSecret";
    public const string AccessTokenField = "accessToken";
    public const string LeaseField = "tokenLease";

    private const int Attempts = 200;
    private static readonly TimeSpan LeaseWait = TimeSpan.FromMilliseconds(150);

    public async Task<MercadoLivreToken> GetAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var leaseId = Guid.NewGuid().ToString("N");
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            if (attempt > 0)
            {
                channel = await channels.GetAsync(channel.CompanyId, channel.Id, cancellationToken: cancellationToken)
                    ?? throw new InvalidOperationException($"Channel {channel.Id} was deleted while its token was renewed.");
            }

            var now = clock.GetUtcNow();
            if (Current(channel, now) is { } token)
            {
                return new MercadoLivreToken(token);
            }

            var refresh = channels.RevealSecret(channel, RefreshTokenField);
            if (MercadoLivreRenewals.ReadRefused(channels.RevealSecret(channel, MercadoLivreRenewals.RefusedField), refresh) is { } refused)
            {
                // Refused before: sending it again cannot help, and a loop of refusals helps nobody.
                return new MercadoLivreToken(null, refused, Reconnect: true);
            }

            if (LeaseUntil(channel) > now)
            {
                // Another instance is spending the refresh token: its access token will be in the row shortly.
                await Task.Delay(LeaseWait, clock, cancellationToken);
                continue;
            }

            Channel leased;
            try
            {
                var lease = Secret(LeaseField, $"{(now + options.CurrentValue.TokenLeaseTimeout).ToUnixTimeMilliseconds()}|{leaseId}");
                if (refresh is { Length: > 0 } && MercadoLivreRenewals.ReadAttempt(channels.RevealSecret(channel, MercadoLivreRenewals.AttemptField), refresh) is null)
                {
                    // Recorded before Mercado Livre is called; an unfinished attempt on this token is kept, not overwritten.
                    lease[MercadoLivreRenewals.AttemptField] = MercadoLivreRenewals.Attempt(leaseId, refresh, now);
                }

                leased = await channels.UpdateAsync(channel, lease, cancellationToken);
            }
            catch (StorageConflictException)
            {
                continue;
            }

            return await RenewAsync(leased, leaseId);
        }

        return new MercadoLivreToken(null, "Another instance kept renewing the channel's token; try again shortly.", RetryAfter: options.CurrentValue.RetryDelay);
    }

    /// <summary>The stored access token when it was issued for the stored refresh token and is not about to expire.</summary>
    private string? Current(Channel channel, DateTimeOffset now)
    {
        if (channels.RevealSecret(channel, AccessTokenField)?.Split('|', 3) is not [var expires, var fingerprint, var token]
            || !long.TryParse(expires, CultureInfo.InvariantCulture, out var seconds)
            || channels.RevealSecret(channel, RefreshTokenField) is not { } refresh
            || fingerprint != Fingerprint(refresh))
        {
            return null;
        }

        return DateTimeOffset.FromUnixTimeSeconds(seconds) - options.CurrentValue.TokenRenewBefore > now ? token : null;
    }

    private DateTimeOffset LeaseUntil(Channel channel) =>
        channels.RevealSecret(channel, LeaseField)?.Split('|', 2) is [var until, _] && long.TryParse(until, CultureInfo.InvariantCulture, out var ms)
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : DateTimeOffset.MinValue;

    /// <remarks>
    /// Once the refresh token is on its way nothing cancels the exchange or the write of its answer (the client's own
    /// timeout still applies): a cancelled invocation must not drop tokens Mercado Livre has issued for a spent one.
    /// </remarks>
    private async Task<MercadoLivreToken> RenewAsync(Channel leased, string leaseId)
    {
        var refresh = channels.RevealSecret(leased, RefreshTokenField);
        var clientSecret = channels.RevealSecret(leased, ClientSecretField);
        if (refresh is not { Length: > 0 } || clientSecret is null || leased.GetString("clientId") is not { } clientId)
        {
            await ReleaseAsync(leased, Secret(LeaseField, ""));
            await reconnects.MarkAsync(leased, CancellationToken.None);
            return new MercadoLivreToken(null, "The channel has no refresh token. " + MercadoLivreToken.ReconnectAdvice, Reconnect: true);
        }

        var recorded = MercadoLivreRenewals.ReadAttempt(channels.RevealSecret(leased, MercadoLivreRenewals.AttemptField), refresh);
        var interrupted = recorded?.AttemptId == leaseId ? null : recorded;
        if (interrupted is not null)
        {
            LogInterrupted(leased.Id, interrupted.AttemptId, leaseId);
        }

        System.Text.Json.Nodes.JsonNode answer;
        try
        {
            answer = await api.TokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["client_id"] = clientId,
                ["client_secret"] = clientSecret,
                ["refresh_token"] = refresh,
            }, CancellationToken.None);
        }
        catch (MercadoLivreApiException e) when (e.IsInvalidGrant || e.Status is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden)
        {
            OmniTelemetry.TokenRefreshFailed(ChannelTypes.MercadoLivre, "refused");
            LogRefused(leased.Id, e.Error ?? ((int)e.Status).ToString(CultureInfo.InvariantCulture), interrupted?.AttemptId ?? "none");
            var problem = MercadoLivreRenewals.RefusalProblem(e.Error, e.Detail, interrupted);
            await ReleaseAsync(leased, new Dictionary<string, string>
            {
                [LeaseField] = "",
                [MercadoLivreRenewals.AttemptField] = "",
                [MercadoLivreRenewals.RefusedField] = MercadoLivreRenewals.Refused(refresh, problem),
            });
            await reconnects.MarkAsync(leased, CancellationToken.None);
            return new MercadoLivreToken(null, problem, Reconnect: true);
        }
        catch (Exception e) when (e is MercadoLivreApiException or HttpRequestException or TaskCanceledException)
        {
            OmniTelemetry.TokenRefreshFailed(ChannelTypes.MercadoLivre, "unavailable");
            // Mercado Livre answered: the token was not spent and this attempt is over. No answer (a timeout, a
            // dropped connection): it may have been spent, so the attempt stays recorded for whoever tries next.
            var release = Secret(LeaseField, "");
            if (e is MercadoLivreApiException && interrupted is null)
            {
                release[MercadoLivreRenewals.AttemptField] = "";
            }

            await ReleaseAsync(leased, release);
            return new MercadoLivreToken(null, $"Mercado Livre's token endpoint failed ({(e as MercadoLivreApiException)?.Detail ?? e.GetType().Name}).",
                RetryAfter: (e as MercadoLivreApiException)?.RetryAfter ?? options.CurrentValue.RetryDelay);
        }

        if (await StoreGrantAsync(leased, answer, refresh, CancellationToken.None) is not { } access)
        {
            await ReleaseAsync(leased, Secret(LeaseField, ""));
            return new MercadoLivreToken(null, "Mercado Livre's token answer had no access_token or refresh_token.", RetryAfter: options.CurrentValue.RetryDelay);
        }

        LogRenewed(leased.Id);
        return new MercadoLivreToken(access);
    }

    /// <summary>
    /// Stores the tokens of an <c>oauth/token</c> answer (and drops the lease); <paramref name="spent"/> is the refresh
    /// token exchanged for them (null after a consent, which replaces whatever was stored). Null when the answer lacks them.
    /// </summary>
    public async Task<string?> StoreGrantAsync(Channel channel, System.Text.Json.Nodes.JsonNode answer, string? spent, CancellationToken cancellationToken = default)
    {
        var access = MercadoLivreApi.Text(answer["access_token"]);
        var renewed = MercadoLivreApi.Text(answer["refresh_token"]);
        var lifetime = answer["expires_in"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<long>(out var s) ? s : 21600;
        if (access is null || renewed is null)
        {
            return null;
        }

        var expires = clock.GetUtcNow().AddSeconds(lifetime).ToUnixTimeSeconds();
        await StoreAsync(channel, spent, new Dictionary<string, string>
        {
            [RefreshTokenField] = renewed,
            [AccessTokenField] = $"{expires.ToString(CultureInfo.InvariantCulture)}|{Fingerprint(renewed)}|{access}",
            [LeaseField] = "",
            [MercadoLivreRenewals.AttemptField] = "",
            [MercadoLivreRenewals.RefusedField] = "",
        }, cancellationToken);
        await reconnects.ClearAsync(channel, CancellationToken.None);
        return access;
    }

    /// <summary>Stores the renewed tokens over whatever else changed the row meanwhile, unless someone saved another refresh token.</summary>
    private async Task StoreAsync(Channel leased, string? spent, Dictionary<string, string> tokens, CancellationToken cancellationToken)
    {
        var channel = leased;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await channels.UpdateAsync(channel, tokens, CancellationToken.None);
                return;
            }
            catch (StorageConflictException) when (attempt < StorageRetry.MaxAttempts)
            {
                if (await channels.GetAsync(channel.CompanyId, channel.Id, includeDeleted: true, cancellationToken) is not { } fresh
                    || (spent is not null && channels.RevealSecret(fresh, RefreshTokenField) != spent))
                {
                    // Someone saved a new refresh token meanwhile: theirs is the one to keep.
                    return;
                }

                channel = fresh;
            }
        }
    }

    private async Task ReleaseAsync(Channel leased, Dictionary<string, string> release)
    {
        try
        {
            await channels.UpdateAsync(leased, release, CancellationToken.None);
        }
        catch (StorageConflictException)
        {
            // Changed meanwhile; the lease runs out by itself.
        }
    }

    private static Dictionary<string, string> Secret(string field, string value) => new() { [field] = value };

    internal static string Fingerprint(string refreshToken) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(refreshToken)))[..16];

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre tokens of channel {ChannelId} renewed")]
    private partial void LogRenewed(string channelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mercado Livre refused the refresh token of channel {ChannelId} ({Error}; interrupted earlier attempt: {InterruptedAttempt}): the seller must reconnect")]
    private partial void LogRefused(string channelId, string error, string interruptedAttempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mercado Livre token renewal {AttemptId} of channel {ChannelId} never finished; attempt {LeaseId} takes its refresh token over")]
    private partial void LogInterrupted(string channelId, string attemptId, string leaseId);
}
