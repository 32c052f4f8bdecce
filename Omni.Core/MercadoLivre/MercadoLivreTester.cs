using System.Diagnostics;
using Omni.Channels;

namespace Omni.MercadoLivre;

/// <summary>
/// "Testar Configurações" for Mercado Livre: an access token from the seller's refresh token (renewed when due, as
/// every call does), then <c>GET {api}/users/me</c> with it, which must be the channel's seller. A refused refresh
/// token says the seller must reconnect.
/// </summary>
internal sealed class MercadoLivreTester(MercadoLivreTokens tokens, MercadoLivreApi api) : IChannelTester
{
    public const string TokenCheck = "Token do vendedor (OAuth)";
    public const string SellerCheck = "Vendedor (users/me)";

    public string ChannelType => ChannelTypes.MercadoLivre;

    public async Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var token = await tokens.GetAsync(channel, cancellationToken);
        if (token.AccessToken is not { } accessToken)
        {
            return [new ChannelCheck(TokenCheck, false, watch.ElapsedMilliseconds, token.Problem)];
        }

        var tokenCheck = new ChannelCheck(TokenCheck, true, watch.ElapsedMilliseconds);
        watch.Restart();
        string? problem;
        try
        {
            var me = await api.GetAsync("users/me", accessToken, cancellationToken);
            var id = MercadoLivreApi.Text(me["id"]);
            problem = id == channel.GetString("sellerId") ? null
                : $"The token is the seller {id}'s, not the channel's sellerId {channel.GetString("sellerId")}. {MercadoLivreToken.ReconnectAdvice}";
        }
        catch (MercadoLivreApiException e)
        {
            problem = $"Mercado Livre answered {(int)e.Status} ({e.Error}: {e.Detail}).";
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            problem = "Mercado Livre could not be reached.";
        }

        return [tokenCheck, new ChannelCheck(SellerCheck, problem is null, watch.ElapsedMilliseconds, problem)];
    }
}
