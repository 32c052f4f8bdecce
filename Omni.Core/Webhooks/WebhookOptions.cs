namespace Omni.Webhooks;

public sealed class WebhookOptions
{
    public const string Section = "Omni:Webhooks";

    /// <summary>Local development only: allows http URLs and private, loopback and link-local targets.</summary>
    public bool AllowPrivateTargets { get; set; }
}
