using System.Net;
using Omni.Conversations;

namespace Omni.Meta;

/// <summary>
/// What a failed Graph send means for the sender: Meta's error code decides whether the message failed for good (with
/// a reason an agent can act on), is worth retrying later, or may have gone out.
/// </summary>
internal static class MetaSendFailures
{
    /// <summary>How long a throttled number or app is left alone before the next attempt (the sender doubles it per attempt).</summary>
    public static readonly TimeSpan ThrottledPause = TimeSpan.FromMinutes(1);

    public static SendResult From(MetaApiException e) => e switch
    {
        { Code: 131047 } => new SendResult(SendOutcome.Permanent, $"{MetaWindows.WhatsAppClosed.Detail} (Meta 131047: {e.Title})"),
        { Code: 131026 } => new SendResult(SendOutcome.Permanent,
            $"Meta could not deliver the message (131026: {e.Title}): the number may not be on WhatsApp, or its app may be too old to receive it."),
        { IsThrottled: true } => new SendResult(SendOutcome.Transient, $"Meta is throttling this number or app ({e.Code}: {e.Title}); trying again later.", RetryAfter: ThrottledPause),
        { IsTokenInvalid: true } => new SendResult(SendOutcome.Permanent,
            $"Meta refused the channel's access token (190: {e.Title}). Save the channel with a new accessToken; \"Testar Configurações\" checks it."),
        { Code: 10 } or { Code: >= 200 and < 300 } => new SendResult(SendOutcome.Permanent,
            $"The access token lacks a permission this send needs ({e.Code}: {e.Title}); \"Testar Configurações\" names it."),
        // Graph's own hiccups (1 unknown, 2 service) and any 5xx pass; anything else is about this message or channel.
        { Code: 1 or 2 } or { Status: >= HttpStatusCode.InternalServerError } => new SendResult(SendOutcome.Transient, $"Meta failed ({(int)e.Status}, {e.Code}: {e.Title})."),
        _ => new SendResult(SendOutcome.Permanent, $"Meta refused the message ({(int)e.Status}, {e.Code}{(e.Subcode is { } s ? $"/{s}" : "")}: {e.Title})."),
    };

    /// <summary>
    /// A send whose answer never came: when the request could not have reached Meta (no connection) it is retried;
    /// otherwise Meta may have taken it, and since Graph has no look-up by a client id it is never sent again blindly.
    /// </summary>
    public static SendResult? FromTransport(Exception e, CancellationToken cancellationToken) => e switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError } =>
            new SendResult(SendOutcome.Transient, $"Meta could not be reached ({e.Message})."),
        HttpRequestException or TaskCanceledException when !cancellationToken.IsCancellationRequested =>
            new SendResult(SendOutcome.Unknown, $"Meta's answer was lost ({e.GetType().Name}): the message may or may not have reached the customer, "
                + "and Meta cannot be asked which. Check with the customer before sending it again."),
        _ => null,
    };
}
