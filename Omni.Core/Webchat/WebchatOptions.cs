using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Omni.Webchat;

/// <summary>The visitor API's limits and real-time transport (<c>Omni:Webchat</c>).</summary>
public sealed class WebchatOptions
{
    public const string Section = "Omni:Webchat";

    /// <summary>Requests one session may make per minute (sending, reading, reconnecting).</summary>
    [Range(1, 100_000)]
    public int SessionPermitsPerMinute { get; set; } = 60;

    /// <summary>Requests one client address may make per minute, sessions created included.</summary>
    [Range(1, 1_000_000)]
    public int IpPermitsPerMinute { get; set; } = 300;

    /// <summary>How long an idle event stream waits before it reads the history again (a reply sent by another instance) and sends a keep-alive.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan EventsPollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Azure Web PubSub's endpoint (https://&lt;name&gt;.webpubsub.azure.com); unset, visitors use the app's own event stream.</summary>
    public Uri? WebPubSubEndpoint { get; set; }

    /// <summary>How long a session may go unused before it is gone (401) and the widget starts another.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromDays(30);

    [RegularExpression("^[A-Za-z][A-Za-z0-9_]{0,127}$")]
    public string WebPubSubHub { get; set; } = "webchat";

    /// <summary>How long a negotiated client URL is valid.</summary>
    [Range(1, 1440)]
    public int WebPubSubTokenMinutes { get; set; } = 60;
}

/// <summary>The options' DataAnnotations, checked by generated code rather than by reflection, so the Native AOT package validates them as the JIT build does.</summary>
[OptionsValidator]
internal sealed partial class WebchatOptionsValidator : IValidateOptions<WebchatOptions>;
