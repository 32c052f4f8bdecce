using Omni.Channels;

namespace Omni.Meta;

/// <summary>
/// One "Testar Configurações" check against Graph, timed, with Meta's error put in words that say what to fix: the
/// token (190), the id (100/33, 803), or a permission (10, 2xx). Meta's messages carry no token.
/// </summary>
internal sealed class MetaChecks(TimeProvider clock)
{
    /// <param name="check">The Graph calls; returns null when they show the settings are right, else what is wrong.</param>
    public async Task<ChannelCheck> RunAsync(string name, string what, string permission, Func<Task<string?>> check, CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        string? error;
        try
        {
            error = await check();
        }
        catch (MetaApiException e)
        {
            error = Explain(e, what, permission);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            error = $"Meta's Graph API could not be reached ({e.GetType().Name}: {e.Message}).";
        }

        return new ChannelCheck(name, error is null, (long)clock.GetElapsedTime(started).TotalMilliseconds, error);
    }

    internal static string Explain(MetaApiException e, string what, string permission) => e switch
    {
        { IsTokenInvalid: true } => $"The access token is invalid or expired (190: {e.Title}). Generate a new token and save it as accessToken.",
        { Code: 100, Subcode: 33 } or { Code: 803 } => $"The {what} was not found, or the access token cannot see it ({e.Code}: {e.Title}).",
        { Code: 10 } or { Code: >= 200 and < 300 } => $"The access token is missing the permission {permission} ({e.Code}: {e.Title}).",
        _ => $"Meta answered {(int)e.Status} with error {e.Code}: {e.Title}",
    };
}
