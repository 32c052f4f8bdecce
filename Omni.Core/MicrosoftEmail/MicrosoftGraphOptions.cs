namespace Omni.MicrosoftEmail;

/// <summary>
/// Where Microsoft Graph and the Entra ID token endpoint are. The defaults are the global cloud; sovereign clouds
/// (and the tests' local server) set both.
/// </summary>
public sealed class MicrosoftGraphOptions
{
    public const string Section = "Omni:Microsoft";

    /// <summary>Graph's versioned root, without a trailing slash: <c>https://graph.microsoft.com/v1.0</c>.</summary>
    public string GraphBaseUrl { get; set; } = "https://graph.microsoft.com/v1.0";

    /// <summary>The Entra ID authority host that issues app-only tokens: <c>https://login.microsoftonline.com/</c>.</summary>
    public string AuthorityHost { get; set; } = "https://login.microsoftonline.com/";

    /// <summary>
    /// Skips Entra ID's instance discovery (a call to login.microsoftonline.com that validates the authority) for
    /// private clouds and Azure Stack, where that endpoint cannot be reached, and for tests' local token server.
    /// </summary>
    public bool DisableInstanceDiscovery { get; set; }

    /// <summary>Most delta pages one poll reads; a large first sync continues on the next poll from the stored page link.</summary>
    public int MaxPagesPerPoll { get; set; } = 10;

    /// <summary>The pause after a throttling answer that named no Retry-After.</summary>
    public TimeSpan DefaultRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    internal Uri GraphBaseUri => new(GraphBaseUrl.TrimEnd('/'));

    internal Uri AuthorityHostUri => new(AuthorityHost);

    /// <summary>The app-only scope for the configured Graph host (<c>https://graph.microsoft.com/.default</c> globally).</summary>
    internal string Scope => $"{GraphBaseUri.GetLeftPart(UriPartial.Authority)}/.default";

    internal static bool IsAbsoluteHttps(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Query.Length == 0 && uri.Fragment.Length == 0;
}
