using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Webchat;

/// <summary>
/// A <c>webchat</c> channel's settings: the origins whose pages may embed the chat, the welcome text and whether
/// visitors must prove who they are. Its one secret, the identity secret that signs <c>userHash</c>, is never sent
/// by the caller: the channel makes it when it is created and shows it once. The public website token is shown
/// with the settings, as the snippet needs it.
/// </summary>
internal sealed class WebchatSettingsRules : IChannelSettingsRules
{
    public const string IdentitySecretField = "identitySecret";
    public const int MaxWelcomeText = 500;

    public void Check(ChannelSettingsInput input)
    {
        input.Settings.String("welcomeText", required: false, maxLength: MaxWelcomeText);
        input.Settings.Bool("requireIdentity", required: false, defaultValue: false);
        if (input.Settings.StringArray("allowedOrigins", required: true, maxItems: 50) is not { } origins)
        {
            return;
        }

        for (var i = 0; i < origins.Count; i++)
        {
            if (WebchatOrigins.Normalize(origins[i]) is null)
            {
                input.Settings.Error($"allowedOrigins[{i}]", "Must be an origin such as https://shop.example.com (scheme, host and optional port, no path).");
            }
        }
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => [IdentitySecretField];

    public IReadOnlyDictionary<string, string> SecretsMadeOnCreate() =>
        new Dictionary<string, string> { [IdentitySecretField] = Security.TokenHash.NewToken("wcid_") };

    public void Show(Channel channel, JsonObject shown) => shown["websiteToken"] = WebsiteToken.For(channel.Id);
}
