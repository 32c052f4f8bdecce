using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;

namespace Omni.Webchat;

public static class WebchatServiceCollectionExtensions
{
    /// <summary>The <c>webchat</c> channel: its settings can be kept now; the chat itself is not built yet.</summary>
    public static IServiceCollection AddWebchatChannel(this IServiceCollection services) =>
        services.AddChannelKind(ChannelTypes.Webchat, kind => kind
            .Settings<WebchatSettingsRules>()
            .NoTester("The web chat has no external service to try; its widget and socket arrive with the webchat issue.")
            .NoTransport("Sending to a web chat visitor arrives with the webchat issue.")
            .NoInbound("The web chat widget's inbound messages arrive with the webchat issue."));
}
