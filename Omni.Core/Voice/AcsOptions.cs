using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Omni.Voice;

/// <summary>
/// How calls reach Azure Communication Services Call Automation (<c>Omni:Voice</c>, beside <see cref="VoiceOptions"/>).
/// Unset <see cref="AcsEndpoint"/> means no calls are answered here; the Event Grid handshake still works.
/// </summary>
public sealed class AcsOptions
{
    /// <summary>The ACS resource (<c>Omni__Voice__AcsEndpoint</c>): https://&lt;name&gt;.communication.azure.com.</summary>
    public Uri? AcsEndpoint { get; set; }

    /// <summary>
    /// The resource's access key, base64 (<c>Omni__Voice__AcsAccessKey</c>, a secret: never logged). Requests are
    /// HMAC-signed with it; unset, they carry an Entra ID token of the app's managed identity.
    /// </summary>
    public string? AcsAccessKey { get; set; }

    /// <summary>The user-assigned managed identity's client id used when no access key is set (<c>Omni__Voice__AcsClientId</c>).</summary>
    public string? AcsClientId { get; set; }

    /// <summary>Where ACS reaches this app's callbacks (<c>Omni__Voice__PublicBaseUrl</c>): https://&lt;app&gt;.azurewebsites.net.</summary>
    public Uri? PublicBaseUrl { get; set; }

    /// <summary>The Azure AI services resource ACS speaks text prompts with (<c>Omni__Voice__CognitiveServicesEndpoint</c>).</summary>
    public Uri? CognitiveServicesEndpoint { get; set; }

    /// <summary>How long the read-only URL of an audio prompt handed to ACS stays valid.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "01:00:00")]
    public TimeSpan AudioUrlLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long the menu waits for the caller's first digit after its prompt.</summary>
    [Range(1, 60)]
    public int MenuTimeoutSeconds { get; set; } = 8;

    internal static string? Check(AcsOptions o)
    {
        if (o.AcsEndpoint is null)
        {
            return null;
        }

        if (!o.AcsEndpoint.IsAbsoluteUri || o.AcsEndpoint.Scheme != Uri.UriSchemeHttps)
        {
            return "Omni__Voice__AcsEndpoint must be an absolute https URL such as https://omni.communication.azure.com.";
        }

        if (o.PublicBaseUrl is not { IsAbsoluteUri: true } url || url.Scheme != Uri.UriSchemeHttps)
        {
            return "Omni__Voice__PublicBaseUrl must be the app's absolute https URL (where ACS sends call events) when Omni__Voice__AcsEndpoint is set.";
        }

        if (o.AcsAccessKey is { Length: > 0 } key && !Convert.TryFromBase64String(key, new byte[key.Length], out _))
        {
            return "Omni__Voice__AcsAccessKey must be the resource's base64 access key.";
        }

        return o.CognitiveServicesEndpoint is { IsAbsoluteUri: false }
            ? "Omni__Voice__CognitiveServicesEndpoint must be an absolute URL." : null;
    }
}

/// <summary>The options' DataAnnotations, checked by generated code rather than by reflection, so the Native AOT package validates them as the JIT build does.</summary>
[OptionsValidator]
internal sealed partial class AcsOptionsValidator : IValidateOptions<AcsOptions>;
