using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;

namespace Omni.MercadoLivre;

public static class MercadoLivreServiceCollectionExtensions
{
    /// <summary>The <c>mercadolivre</c> channel: its settings can be kept now; talking to Mercado Livre is not built yet.</summary>
    public static IServiceCollection AddMercadoLivreChannel(this IServiceCollection services) =>
        services.AddChannelKind(ChannelTypes.MercadoLivre, kind => kind
            .Settings<MercadoLivreSettingsRules>()
            .NoTester("Trying the seller's token against the Mercado Livre API arrives with the Mercado Livre channel issue.")
            .NoTransport("Answering questions and messages arrives with the Mercado Livre channel issue.")
            .NoInbound("Mercado Livre's notifications arrive with the Mercado Livre channel issue."));
}
