using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.MercadoLivre;

/// <summary>A <c>mercadolivre</c> channel's settings: the seller account and its access token.</summary>
internal sealed class MercadoLivreSettingsRules : IChannelSettingsRules
{
    public const string AccessTokenField = "accessToken";

    // A token is the seller's; answering another seller's questions with it must not happen by an edit.
    private static readonly SecretBinding AccessTokenBinding = new(AccessTokenField, ["sellerId"], "the seller changed");

    public void Check(ChannelSettingsInput input)
    {
        if (input.Settings.String("sellerId", required: true, maxLength: 32) is { } seller && !seller.All(char.IsAsciiDigit))
        {
            input.Settings.Error("sellerId", "Must be the numeric Mercado Livre seller id.");
        }

        input.Secret(AccessTokenField);
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => [AccessTokenField];

    public IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => [AccessTokenBinding];
}
