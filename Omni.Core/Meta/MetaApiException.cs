using System.Net;

namespace Omni.Meta;

/// <summary>
/// Graph answered with its error document (<c>{"error": {message, type, code, error_subcode}}</c>). The code is what
/// a caller decides on (190 token, 131047 window, 131026 undeliverable, 130429/131056 throttled); the message is
/// Meta's own words and carries no token.
/// </summary>
public sealed class MetaApiException(HttpStatusCode status, int code, int? subcode, string title, string? type)
    : Exception($"Meta answered {(int)status} with error {code}{(subcode is null ? "" : $"/{subcode}")}: {title}")
{
    public HttpStatusCode Status { get; } = status;

    public int Code { get; } = code;

    public int? Subcode { get; } = subcode;

    /// <summary>Meta's error message (for WhatsApp, the error title).</summary>
    public string Title { get; } = title;

    public string? Type { get; } = type;

    /// <summary>The access token is invalid, expired or revoked: the channel's settings must change.</summary>
    public bool IsTokenInvalid => Code == 190;

    /// <summary>Meta is throttling this number or app: try again later, with backoff.</summary>
    public bool IsThrottled => Code is 4 or 17 or 32 or 613 or 80007 or 130429 or 131056 || Status == HttpStatusCode.TooManyRequests;
}
