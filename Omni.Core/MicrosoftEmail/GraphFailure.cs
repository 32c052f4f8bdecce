using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure.Identity;
using Microsoft.Identity.Client;
using Microsoft.Kiota.Abstractions;

namespace Omni.MicrosoftEmail;

internal enum GraphFailureKind
{
    /// <summary>The directory (tenant) id or domain is not a tenant Entra ID knows.</summary>
    WrongTenant,

    /// <summary>No application with that client id in the tenant.</summary>
    WrongClientId,

    /// <summary>The client secret is wrong or expired.</summary>
    WrongSecret,

    /// <summary>The token endpoint refused for another reason (consent, disabled app…).</summary>
    AuthenticationFailed,

    /// <summary>Graph answered 401 to a token it issued: expired early, revoked.</summary>
    Unauthorized,

    /// <summary>403: the app lacks Mail.ReadWrite/Mail.Send, or an access policy excludes this mailbox.</summary>
    Forbidden,

    /// <summary>404: no such mailbox (or message) in the tenant.</summary>
    NotFound,

    /// <summary>429 or 503 with a pause to keep.</summary>
    Throttled,

    /// <summary>Another 5xx, a timeout or a broken connection: worth trying again later.</summary>
    Unavailable,

    /// <summary>Another 4xx: the request will not succeed as it is.</summary>
    Rejected,
}

/// <summary>
/// What a failed Graph or token call means, in words fit to show an administrator: never the secret, the token or
/// the raw response. Token endpoint errors are told apart by their documented AADSTS codes (<c>error_codes</c>).
/// </summary>
internal sealed partial record GraphFailure(GraphFailureKind Kind, int? Status, string Message, TimeSpan? RetryAfter = null)
{
    public bool IsTransient => Kind is GraphFailureKind.Throttled or GraphFailureKind.Unavailable;

    /// <summary>Classifies an exception from the credential or the Graph SDK; null when it is neither (a bug: let it throw).</summary>
    public static GraphFailure? From(Exception exception, TimeProvider clock) => exception switch
    {
        AuthenticationFailedException auth => TokenFailed(FromToken(auth)),
        ApiException api => FromGraph(api, clock),
        HttpRequestException or TaskCanceledException or IOException =>
            new GraphFailure(GraphFailureKind.Unavailable, null, "Microsoft Graph could not be reached (network error or timeout)."),
        _ => null,
    };

    /// <summary>Counted here: polls, sends and tests all classify a failed token request through <see cref="From"/>.</summary>
    private static GraphFailure TokenFailed(GraphFailure failure)
    {
        Telemetry.OmniTelemetry.TokenRefreshFailed(Channels.ChannelTypes.MicrosoftEmail, failure.IsTransient ? "unavailable" : "refused");
        return failure;
    }

    private static GraphFailure FromToken(AuthenticationFailedException exception)
    {
        var msal = exception.InnerException as MsalServiceException;
        var codes = ErrorCodes(msal);
        var code = codes.FirstOrDefault();
        if (codes.Any(c => c is 90002 or 900023 or 90013))
        {
            return new GraphFailure(GraphFailureKind.WrongTenant, msal?.StatusCode,
                $"Entra ID does not know this tenant (AADSTS{code}). Check tenantId: the directory (tenant) id or its primary domain.");
        }

        if (codes.Contains(700016))
        {
            return new GraphFailure(GraphFailureKind.WrongClientId, msal?.StatusCode,
                "No application with this client id exists in the tenant (AADSTS700016). Check clientId: the application (client) id of the app registration.");
        }

        if (codes.Any(c => c is 7000215 or 7000222))
        {
            var what = codes.Contains(7000222) ? "has expired" : "is not valid";
            return new GraphFailure(GraphFailureKind.WrongSecret, msal?.StatusCode,
                $"The client secret {what} (AADSTS{code}). Create a new client secret in the app registration and save its value (not its id).");
        }

        if (msal is null)
        {
            // No answer from Entra ID to judge (a refused connection, a timeout, retries run out): try again later.
            return new GraphFailure(GraphFailureKind.Unavailable, null, "The Entra ID token endpoint could not be reached (network error or timeout).");
        }

        if (msal.StatusCode is 0 or 429 or >= 500)
        {
            return new GraphFailure(GraphFailureKind.Unavailable, msal.StatusCode, $"The Entra ID token endpoint is unavailable ({msal.StatusCode}).");
        }

        var described = code is { } c2 ? $" (AADSTS{c2})" : msal.ErrorCode is { Length: > 0 } e ? $" ({e})" : "";
        return new GraphFailure(GraphFailureKind.AuthenticationFailed, msal.StatusCode,
            $"Entra ID refused to issue a token{described}. Check that the app registration is enabled and has admin consent for Mail.ReadWrite and Mail.Send.");
    }

    private static GraphFailure FromGraph(ApiException exception, TimeProvider clock)
    {
        var status = exception.ResponseStatusCode;
        var code = (exception as Microsoft.Graph.Models.ODataErrors.ODataError)?.Error?.Code;
        var suffix = code is { Length: > 0 } ? $" ({status} {code})" : $" ({status})";
        return status switch
        {
            (int)HttpStatusCode.Unauthorized => new GraphFailure(GraphFailureKind.Unauthorized, status, "Microsoft Graph refused the access token" + suffix + "."),
            (int)HttpStatusCode.Forbidden => new GraphFailure(GraphFailureKind.Forbidden, status,
                "The app has no access to this mailbox" + suffix + ". Grant the application permissions Mail.ReadWrite and Mail.Send with admin consent, and check any application access policy."),
            (int)HttpStatusCode.NotFound => new GraphFailure(GraphFailureKind.NotFound, status,
                "No such mailbox in this tenant" + suffix + ". Check mailboxId: the user id or user principal name of the mailbox."),
            (int)HttpStatusCode.TooManyRequests or (int)HttpStatusCode.ServiceUnavailable => new GraphFailure(GraphFailureKind.Throttled, status,
                "Microsoft Graph is throttling this mailbox" + suffix + ".", ParseRetryAfter(exception.ResponseHeaders, clock)),
            >= 500 => new GraphFailure(GraphFailureKind.Unavailable, status, "Microsoft Graph failed" + suffix + ".", ParseRetryAfter(exception.ResponseHeaders, clock)),
            _ => new GraphFailure(GraphFailureKind.Rejected, status, "Microsoft Graph rejected the request" + suffix + "."),
        };
    }

    private static int[] ErrorCodes(MsalServiceException? msal)
    {
        if (msal is null)
        {
            return [];
        }

        if (!string.IsNullOrEmpty(msal.ResponseBody))
        {
            try
            {
                using var body = JsonDocument.Parse(msal.ResponseBody);
                if (body.RootElement.ValueKind == JsonValueKind.Object
                    && body.RootElement.TryGetProperty("error_codes", out var array) && array.ValueKind == JsonValueKind.Array)
                {
                    return array.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)).Select(e => e.GetInt32()).ToArray();
                }
            }
            catch (JsonException)
            {
                // Not the documented error body (a proxy's page): fall back to the code in the message.
            }
        }

        return AadstsCode().Matches(msal.Message).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
    }

    private static TimeSpan? ParseRetryAfter(IDictionary<string, IEnumerable<string>> headers, TimeProvider clock)
    {
        var value = headers.FirstOrDefault(h => string.Equals(h.Key, "Retry-After", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
        if (value is null)
        {
            return null;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }

        return DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? (at - clock.GetUtcNow()) is var delay && delay > TimeSpan.Zero ? delay : TimeSpan.Zero
            : null;
    }

    [GeneratedRegex(@"AADSTS(\d{5,8})", RegexOptions.CultureInvariant)]
    private static partial Regex AadstsCode();
}
