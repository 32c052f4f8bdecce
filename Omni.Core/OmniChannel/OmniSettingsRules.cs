using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Security;
using Omni.Webhooks;

namespace Omni.OmniChannel;

/// <summary>
/// An <c>omni</c> channel's settings: the integrator's webhook URL. Its one secret, the webhook signing secret, is
/// never sent by the caller: the channel makes it when it is created (shown once) and rotates it on request.
/// </summary>
internal sealed class OmniSettingsRules(IOptions<WebhookOptions> options) : IChannelSettingsRules
{
    public void Check(ChannelSettingsInput input)
    {
        if (input.Settings.String("webhookUrl", required: true, maxLength: 2048) is { } url
            && TargetAddressPolicy.ValidateUrl(url, options.Value.AllowPrivateTargets) is { } problem)
        {
            input.Settings.Error("webhookUrl", problem);
        }
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => [WebhookSecrets.CurrentField];

    public IReadOnlyDictionary<string, string> SecretsMadeOnCreate() => new Dictionary<string, string> { [WebhookSecrets.CurrentField] = WebhookSecrets.New() };

    public void Show(Channel channel, JsonObject shown) => shown["webhookDisabled"] = channel.WebhookDisabledAt is not null;
}
