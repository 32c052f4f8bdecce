namespace Omni.MercadoLivre;

/// <summary>How the app reaches Mercado Livre (<c>Omni__MercadoLivre__*</c>).</summary>
public sealed class MercadoLivreOptions
{
    public const string Section = "Omni:MercadoLivre";

    /// <summary>The API root (questions, answers, messages, missed_feeds, oauth/token); tests point it at a local server.</summary>
    public string ApiBaseUrl { get; set; } = "https://api.mercadolibre.com";

    /// <summary>Where the seller's consent page lives (<c>/authorization</c>).</summary>
    public string AuthBaseUrl { get; set; } = "https://auth.mercadolivre.com.br";

    /// <summary>How long one call may take before it is treated as failed.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An access token this close to its expiry is renewed rather than used (a call must not outlive it).</summary>
    public TimeSpan TokenRenewBefore { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long one instance may hold the right to spend the refresh token before another may take it over.</summary>
    public TimeSpan TokenLeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The queue the notification endpoint hands stored notifications to (the MercadoLivreNotification function's queueName).</summary>
    public string NotificationsQueueName { get; set; } = "mercadolivre-notifications";

    /// <summary>The first wait after a 429 or an outage; doubled per attempt.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times one notification is tried before it is left, visibly, as failed.</summary>
    public int NotificationAttempts { get; set; } = 8;

    /// <summary>The Mercado Livre site (<c>site_id</c>) attachments are uploaded to and, when a message names none, read from.</summary>
    public string SiteId { get; set; } = "MLB";

    /// <summary>A buyer's attachment larger than this is named on its message but not stored (Mercado Livre's own limit is 25 MB).</summary>
    public long MaxAttachmentBytes { get; set; } = 25 * 1024 * 1024;

    internal Uri ApiBaseUri => new(ApiBaseUrl.TrimEnd('/') + "/");

    internal Uri AuthBaseUri => new(AuthBaseUrl.TrimEnd('/') + "/");

    internal static bool IsAbsoluteHttps(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Query.Length == 0 && uri.Fragment.Length == 0;
}
