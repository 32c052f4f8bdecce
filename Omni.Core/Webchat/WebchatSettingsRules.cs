using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Webchat;

/// <summary>A <c>webchat</c> channel's settings: the origins whose pages may embed the chat. It has no secrets.</summary>
internal sealed class WebchatSettingsRules : IChannelSettingsRules
{
    public void Check(ChannelSettingsInput input)
    {
        if (input.Settings.StringArray("allowedOrigins", required: true, maxItems: 50) is not { } origins)
        {
            return;
        }

        for (var i = 0; i < origins.Count; i++)
        {
            if (!Uri.TryCreate(origins[i], UriKind.Absolute, out var origin) || origin.Scheme is not ("https" or "http")
                || origin.AbsolutePath != "/" || origin.Query.Length > 0 || origins[i].TrimEnd('/').Length != origin.GetLeftPart(UriPartial.Authority).Length)
            {
                input.Settings.Error($"allowedOrigins[{i}]", "Must be an origin such as https://shop.example.com (scheme, host and optional port, no path).");
            }
        }
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => [];
}
