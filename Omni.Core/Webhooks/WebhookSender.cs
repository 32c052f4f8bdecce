using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;
using Omni.Security;

namespace Omni.Webhooks;

/// <summary>What one attempt came to. <see cref="Gone"/> is the integrator's 410: stop sending to this webhook.</summary>
internal sealed record AttemptResult(int? StatusCode, long ElapsedMs, string? Error, string? ResponseBody, TimeSpan? RetryAfter)
{
    public bool Succeeded => StatusCode is >= 200 and < 300;

    public bool Gone => StatusCode == 410;
}

/// <summary>
/// One signed POST: signed afresh (new timestamp, same id), 2xx within the timeout is success, redirects are
/// answers (not followed), and at most <see cref="ExcerptBytes"/> of the response body is read and kept.
/// </summary>
internal sealed class WebhookSender(IHttpClientFactory httpClients, TimeProvider clock, IOptions<WebhookOptions> options)
{
    public const string ClientName = "omni-webhooks";
    public const int ExcerptBytes = 1024;
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public async Task<AttemptResult> SendAsync(Uri url, string webhookId, ReadOnlyMemory<byte> body, IReadOnlyList<string> secrets, CancellationToken cancellationToken = default)
    {
        var timeout = options.Value.AttemptTimeout;
        if (url.Scheme != Uri.UriSchemeHttps && !(url.Scheme == Uri.UriSchemeHttp && options.Value.AllowPrivateTargets))
        {
            return new AttemptResult(null, 0, "Refused: webhook URLs must use https.", null, null);
        }

        if (secrets.Count == 0)
        {
            return new AttemptResult(null, 0, "The channel has no webhook signing secret; rotate it to make one.", null, null);
        }

        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = Json;
        request.Headers.TryAddWithoutValidation("webhook-id", webhookId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSigner.Sign(webhookId, timestamp, body.Span, secrets));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("OmniChannels-Webhooks", "1.0"));

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        var started = Stopwatch.GetTimestamp();
        long Elapsed() => (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            using var client = httpClients.CreateClient(ClientName);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutCts.Token);
            var elapsed = Elapsed();
            var status = (int)response.StatusCode;
            var excerpt = await ReadExcerptAsync(response, timeoutCts.Token);
            var error = status switch
            {
                >= 200 and < 300 => null,
                >= 300 and < 400 => $"Redirects are not followed: the endpoint answered {status}.",
                _ => $"The endpoint answered {status}.",
            };
            return new AttemptResult(status, elapsed, error, excerpt, RetryAfter(response));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new AttemptResult(null, Elapsed(), $"No response within {timeout.TotalSeconds:0.#} s.", null, null);
        }
        catch (HttpRequestException ex)
        {
            var refused = FindRefusal(ex);
            return new AttemptResult(null, Elapsed(), refused?.Message ?? $"Could not reach the endpoint: {ex.HttpRequestError} ({ex.Message})", null, null);
        }
    }

    private static TargetRefusedException? FindRefusal(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is TargetRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }

    private static async Task<string?> ReadExcerptAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[ExcerptBytes];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }

            return read == 0 ? null : Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            // The status is the answer; a body cut short only loses the excerpt.
            return null;
        }
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - clock.GetUtcNow() is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero,
        _ => null,
    };
}
