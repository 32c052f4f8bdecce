namespace Omni.Storage;

public sealed class StorageOptions
{
    public const string Section = "Omni:Storage";

    /// <summary>
    /// Create missing tables, queues and containers at start. On by default so a fresh Azurite works;
    /// the Bicep template creates them in Azure and turns this off to save the calls on every cold start.
    /// </summary>
    public bool ProvisionOnStart { get; set; } = true;

    /// <summary>Filled by each feature's <c>Add…</c> extension with what it stores.</summary>
    public HashSet<string> Tables { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Queues { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Containers { get; } = new(StringComparer.Ordinal);
}
