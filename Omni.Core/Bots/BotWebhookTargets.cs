using System.Security.Cryptography;
using Omni.Webhooks;

namespace Omni.Bots;

/// <summary>A bot's webhook as the delivery engine sees it: read at each attempt, so a changed URL is used at once.</summary>
internal sealed class BotWebhookTargets(IBotStore store) : IWebhookTargets
{
    public const string IdPrefix = "bot_";

    public bool Owns(string targetId) => targetId.StartsWith(IdPrefix, StringComparison.Ordinal);

    public async Task<WebhookTarget?> FindAsync(string companyId, string targetId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (await store.GetAsync(companyId, targetId, cancellationToken) is not { } bot)
        {
            return null;
        }

        try
        {
            return new WebhookTarget(bot.WebhookUrl, [store.RevealSecret(bot)]);
        }
        catch (CryptographicException)
        {
            return new WebhookTarget(bot.WebhookUrl, null);
        }
    }
}
