using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Omni.Channels;

namespace Omni.MercadoLivre;

/// <summary>
/// The MercadoLivreMissedFeeds timer: for each company's Mercado Livre application, <c>GET {api}/missed_feeds?app_id=</c>
/// lists the notifications Mercado Livre could not deliver, and each is stored as if it had arrived (the same
/// dedupe, so one that did arrive is not processed again). A 429 or an outage is left for the next tick.
/// </summary>
internal sealed partial class MercadoLivreMissedFeeds(
    IChannelStore channels,
    MercadoLivreTokens tokens,
    MercadoLivreApi api,
    MercadoLivreNotificationStore store,
    ILogger<MercadoLivreMissedFeeds> logger)
{
    public async Task SweepAsync(CancellationToken cancellationToken = default)
    {
        var applications = new HashSet<(string CompanyId, string ClientId)>();
        await foreach (var channel in channels.ListAllAsync([ChannelTypes.MercadoLivre], cancellationToken))
        {
            if (channel.GetString("clientId") is not { } clientId || !applications.Add((channel.CompanyId, clientId)))
            {
                continue;
            }

            try
            {
                await RecoverAsync(channel, clientId, cancellationToken);
            }
            catch (Exception e) when (e is MercadoLivreApiException or HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                LogFailed(clientId, channel.Id, (e as MercadoLivreApiException)?.Detail ?? e.GetType().Name);
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                // Saved under another key: this channel waits for its secrets to be saved again; the others go on.
                applications.Remove((channel.CompanyId, clientId));
                LogFailed(clientId, channel.Id, "its stored secrets cannot be decrypted");
            }
        }
    }

    private async Task RecoverAsync(Channel channel, string clientId, CancellationToken cancellationToken)
    {
        if (await tokens.GetAsync(channel, cancellationToken) is not { AccessToken: { } token })
        {
            LogNoToken(clientId, channel.Id);
            return;
        }

        var feeds = await api.GetAsync($"missed_feeds?app_id={Uri.EscapeDataString(clientId)}", token, cancellationToken);
        var recovered = 0;
        foreach (var item in feeds["messages"] as JsonArray ?? [])
        {
            if (item is JsonObject feed && MercadoLivreNotifications.Parse(feed) is { } notification)
            {
                await store.StoreAsync(channel.CompanyId, channel.Id, notification, cancellationToken);
                recovered++;
            }
        }

        if (recovered > 0)
        {
            LogRecovered(recovered, clientId, channel.CompanyId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre missed_feeds gave {Count} notification(s) of application {ClientId} in company {CompanyId}")]
    private partial void LogRecovered(int count, string clientId, string companyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mercado Livre missed_feeds of application {ClientId} (channel {ChannelId}) failed, left for the next run: {Problem}")]
    private partial void LogFailed(string clientId, string channelId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Mercado Livre missed_feeds of application {ClientId} skipped: channel {ChannelId} has no usable token")]
    private partial void LogNoToken(string clientId, string channelId);
}
