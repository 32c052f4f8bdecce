using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.MercadoLivre;

/// <summary>
/// A <c>mercadolivre</c> channel's settings: the seller, the Mercado Livre application (<c>clientId</c>,
/// <c>clientSecret</c>) and the seller's refresh token, which the app exchanges for access tokens itself
/// (<see cref="MercadoLivreTokens"/>). The notification key is made on create and shown once.
/// </summary>
internal sealed class MercadoLivreSettingsRules : IChannelSettingsRules
{
    public const string NotificationKeyField = "notificationKey";

    // A refresh token is one seller's consent to one application: another seller or application must bring its own.
    private static readonly SecretBinding RefreshTokenBinding = new(MercadoLivreTokens.RefreshTokenField, ["sellerId", "clientId"], "the seller or application changed");
    private static readonly SecretBinding ClientSecretBinding = new(MercadoLivreTokens.ClientSecretField, ["clientId"], "the application changed");

    public void Check(ChannelSettingsInput input)
    {
        if (input.Settings.String("sellerId", required: true, maxLength: 32) is { } seller && !seller.All(char.IsAsciiDigit))
        {
            input.Settings.Error("sellerId", "Must be the numeric Mercado Livre seller id (user_id).");
        }

        if (input.Settings.String("clientId", required: true, maxLength: 32) is { } client && !client.All(char.IsAsciiDigit))
        {
            input.Settings.Error("clientId", "Must be the numeric App ID of the Mercado Livre application.");
        }

        input.Secret(MercadoLivreTokens.ClientSecretField, maxLength: 200);
        input.Secret(MercadoLivreTokens.RefreshTokenField, maxLength: 500);
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) =>
        [MercadoLivreTokens.ClientSecretField, MercadoLivreTokens.RefreshTokenField, NotificationKeyField];

    public IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => [RefreshTokenBinding, ClientSecretBinding];

    public IReadOnlyDictionary<string, string> SecretsMadeOnCreate() =>
        new Dictionary<string, string> { [NotificationKeyField] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).TrimEnd('=').Replace('+', '-').Replace('/', '_') };
}
