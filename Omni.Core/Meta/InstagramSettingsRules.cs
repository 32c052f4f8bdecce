using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Meta;

/// <summary>An <c>instagram</c> channel's settings: the Facebook page, its Instagram account and the Meta app's tokens.</summary>
internal sealed class InstagramSettingsRules : IChannelSettingsRules
{
    // The page token acts for one page and account; after a change of either it is asked again.
    private static readonly SecretBinding PageToken = new("accessToken", ["pageId", "instagramAccountId"], "the Instagram page or account changed");

    public void Check(ChannelSettingsInput input)
    {
        var reader = input.Settings;
        reader.EmailAddress("accountEmail", required: true);
        reader.String("pageId", required: true);
        reader.String("instagramAccountId", required: true);
        foreach (var secret in WhatsAppSettingsRules.MetaSecrets)
        {
            input.Secret(secret);
        }
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => WhatsAppSettingsRules.MetaSecrets;

    public IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => [PageToken];
}
