using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;

namespace Omni.OmniChannel;

public static class OmniChannelServiceCollectionExtensions
{
    /// <summary>
    /// The <c>omni</c> channel, the generic integration: messages arrive by <c>receive_hook</c> and leave as signed
    /// webhooks. Needs <c>AddOmniWebhooks()</c> for the publisher and sender it uses.
    /// </summary>
    public static IServiceCollection AddOmniChannel(this IServiceCollection services) =>
        services.AddChannelKind(ChannelTypes.Omni, kind => kind
            .Settings<OmniSettingsRules>()
            .Tester<OmniChannelTester>()
            .Transport<OmniOutboundTransport>()
            .Inbound("POST /api/receive_hook, called by the integrator with a channel API key"));
}
