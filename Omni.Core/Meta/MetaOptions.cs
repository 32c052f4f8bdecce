namespace Omni.Meta;

/// <summary>How the app reaches Meta's Graph API (<c>Omni__Meta__*</c>).</summary>
public sealed class MetaOptions
{
    public const string Section = "Omni:Meta";

    /// <summary>The versioned Graph root without a trailing slash; tests and sovereign setups point it elsewhere.</summary>
    public string GraphBaseUrl { get; set; } = "https://graph.facebook.com/v23.0";

    /// <summary>How long one Graph call may take before it is treated as failed (and, for a send, as outcome unknown).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    internal Uri GraphBaseUri => new(GraphBaseUrl.TrimEnd('/') + "/");

    internal static bool IsAbsoluteHttps(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Query.Length == 0 && uri.Fragment.Length == 0;
}
