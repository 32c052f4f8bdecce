using System.Globalization;

namespace Omni.MercadoLivre;

/// <summary>A renewal that was started on a refresh token: its attempt (the lease id) and when.</summary>
internal sealed record MercadoLivreRenewal(string AttemptId, DateTimeOffset StartedAt);

/// <summary>
/// What the channel's secrets record about renewing its refresh token, beside the lease: the attempt that is spending
/// it (<c>tokenAttempt</c>, written with the lease before Mercado Livre is called and cleared in the same write that
/// stores its answer) and a refresh token Mercado Livre refused (<c>tokenRefused</c>). An attempt still recorded when
/// another instance takes the lease over did not finish: its answer may have been lost after Mercado Livre spent the
/// token. A refused token is not sent again: only a new one (consent, or a saved <c>refreshToken</c>) is.
/// </summary>
internal static class MercadoLivreRenewals
{
    public const string AttemptField = "tokenAttempt";
    public const string RefusedField = "tokenRefused";

    public static string Attempt(string attemptId, string refreshToken, DateTimeOffset now) =>
        $"{attemptId}|{MercadoLivreTokens.Fingerprint(refreshToken)}|{now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The attempt recorded on this refresh token, or null (none, or one on a token since replaced).</summary>
    public static MercadoLivreRenewal? ReadAttempt(string? stored, string? refreshToken) =>
        stored?.Split('|', 3) is [var id, var fingerprint, var at] && refreshToken is not null && fingerprint == MercadoLivreTokens.Fingerprint(refreshToken)
            && long.TryParse(at, CultureInfo.InvariantCulture, out var ms)
            ? new MercadoLivreRenewal(id, DateTimeOffset.FromUnixTimeMilliseconds(ms))
            : null;

    public static string Refused(string refreshToken, string problem) => $"{MercadoLivreTokens.Fingerprint(refreshToken)}|{problem}";

    /// <summary>Why this refresh token was refused before, or null when it was not.</summary>
    public static string? ReadRefused(string? stored, string? refreshToken) =>
        stored?.Split('|', 2) is [var fingerprint, var problem] && refreshToken is not null && fingerprint == MercadoLivreTokens.Fingerprint(refreshToken) ? problem : null;

    /// <summary>Mercado Livre's refusal, and what an unfinished earlier attempt on the same token means for it.</summary>
    public static string RefusalProblem(string? error, string detail, MercadoLivreRenewal? interrupted) => interrupted is null
        ? $"Mercado Livre refused the refresh token ({error}: {detail}). {MercadoLivreToken.ReconnectAdvice}"
        : $"Mercado Livre refused the refresh token ({error}: {detail}). An earlier renewal (attempt {interrupted.AttemptId}, started {interrupted.StartedAt.ToString("u", CultureInfo.InvariantCulture)}) "
            + "was interrupted after it sent this refresh token to Mercado Livre: Mercado Livre spent it and the tokens it issued then were never stored; "
            + $"Mercado Livre offers no way to get them back. {MercadoLivreToken.ReconnectAdvice}";
}
