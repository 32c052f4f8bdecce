using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Storage;

namespace Omni.MercadoLivre;

internal enum ConsentOutcome
{
    /// <summary>The seller consented and the channel's tokens are stored.</summary>
    Connected,

    /// <summary>The state is unknown, used already or expired: 400, nothing changed.</summary>
    BadState,

    /// <summary>Mercado Livre refused the code, or the seller who consented is not the channel's: 400 naming why.</summary>
    Refused,

    /// <summary>Mercado Livre could not be asked now: 503, try the consent again.</summary>
    Unavailable,
}

internal sealed record ConsentResult(ConsentOutcome Outcome, string? Detail = null);

/// <summary>
/// The seller's consent (OAuth authorization code): <see cref="AuthorizeAsync"/> gives the consent page's URL with a
/// state bound to the channel, kept in <c>MercadoLivreOAuthStates</c>; the callback deletes that row under its ETag
/// before it exchanges the code, so a state works once, and stores the seller's tokens on the channel.
/// </summary>
internal sealed partial class MercadoLivreConsent(
    TableServiceClient tables,
    IChannelStore channels,
    MercadoLivreApi api,
    MercadoLivreTokens tokens,
    IOptionsMonitor<MercadoLivreOptions> options,
    TimeProvider clock,
    ILogger<MercadoLivreConsent> logger)
{
    public const string TableName = "MercadoLivreOAuthStates";
    private const string Partition = "state";
    private static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(15);

    private readonly TableClient _states = tables.GetTableClient(TableName);

    /// <summary>The consent page's URL for the channel, or null when the company has no such Mercado Livre channel.</summary>
    public async Task<Uri?> AuthorizeAsync(string companyId, string channelId, Uri callback, CancellationToken cancellationToken = default)
    {
        if (await channels.GetAsync(companyId, channelId, cancellationToken: cancellationToken) is not { Type: ChannelTypes.MercadoLivre } channel)
        {
            return null;
        }

        var state = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        await _states.AddEntityAsync(new TableEntity(Partition, state)
        {
            ["CompanyId"] = companyId,
            ["ChannelId"] = channelId,
            ["Callback"] = callback.ToString(),
            ["ExpiresAt"] = clock.GetUtcNow() + StateLifetime,
        }, cancellationToken);
        var query = $"response_type=code&client_id={Uri.EscapeDataString(channel.GetString("clientId") ?? "")}&redirect_uri={Uri.EscapeDataString(callback.ToString())}&state={state}";
        return new Uri(options.CurrentValue.AuthBaseUri, "authorization?" + query);
    }

    public async Task<ConsentResult> CompleteAsync(string? code, string? state, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(code) || string.IsNullOrEmpty(state) || state.Length > 100
            || await _states.FindAsync(Partition, state, cancellationToken) is not { } row || !await TryDeleteAsync(row, cancellationToken)
            || row.GetDateTimeOffset("ExpiresAt") < clock.GetUtcNow()
            || await channels.GetAsync(row.GetString("CompanyId"), row.GetString("ChannelId"), cancellationToken: cancellationToken) is not { } channel)
        {
            return new ConsentResult(ConsentOutcome.BadState, "The state is unknown, used already or expired: start again from the channel's authorize URL.");
        }

        System.Text.Json.Nodes.JsonNode answer;
        try
        {
            answer = await api.TokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code",
                ["client_id"] = channel.GetString("clientId") ?? "",
                ["client_secret"] = channels.RevealSecret(channel, MercadoLivreTokens.ClientSecretField) ?? "",
                ["code"] = code,
                ["redirect_uri"] = row.GetString("Callback"),
            }, cancellationToken);
        }
        catch (MercadoLivreApiException e) when (!e.IsTransient)
        {
            return new ConsentResult(ConsentOutcome.Refused, $"Mercado Livre refused the authorization code ({e.Error}: {e.Detail}).");
        }
        catch (Exception e) when (e is MercadoLivreApiException or HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new ConsentResult(ConsentOutcome.Unavailable, "Mercado Livre could not be reached; start the consent again.");
        }

        if (MercadoLivreApi.Text(answer["user_id"]) is { } seller && seller != channel.GetString("sellerId"))
        {
            return new ConsentResult(ConsentOutcome.Refused, $"The seller {seller} consented, not the channel's sellerId {channel.GetString("sellerId")}: sign in to Mercado Livre as that seller.");
        }

        if (await tokens.StoreGrantAsync(channel, answer, null, cancellationToken) is null)
        {
            return new ConsentResult(ConsentOutcome.Refused, "Mercado Livre's token answer had no access_token or refresh_token.");
        }

        LogConnected(channel.Id);
        return new ConsentResult(ConsentOutcome.Connected);
    }

    private async Task<bool> TryDeleteAsync(TableEntity row, CancellationToken cancellationToken)
    {
        try
        {
            await _states.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 404 or 412)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre seller of channel {ChannelId} connected by consent")]
    private partial void LogConnected(string channelId);
}
