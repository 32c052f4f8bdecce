using Microsoft.Extensions.Options;
using Omni.Audit;
using Omni.Credentials;
using Omni.Security;
using Omni.Storage;
using Omni.Validation;
using Omni.Webhooks;

namespace Omni.Bots;

/// <summary>A new bot with what is shown once: its webhook signing secret and its key.</summary>
internal sealed record CreatedBot(Bot Bot, string WebhookSecret, string Key);

/// <summary>What a create or an update came to: the bot, or the fields that were wrong.</summary>
internal sealed record BotResult<T>(T? Value, Dictionary<string, string[]>? Errors = null) where T : class;

/// <summary>
/// A company's bots as its administrators manage them: created with a signing secret and a key (both shown once),
/// listed, renamed or pointed elsewhere, deleted (its key fails at once); each change audited, never a secret.
/// </summary>
internal sealed class BotRegistry(IBotStore store, ICredentialStore credentials, IAuditLog audit, IOptions<WebhookOptions> webhooks, TimeProvider clock)
{
    public const int MaxNameLength = 200;
    public const int MaxUrlLength = 2048;

    public async Task<BotResult<CreatedBot>> CreateAsync(string companyId, string? name, string? webhookUrl, string actor, CancellationToken cancellationToken = default)
    {
        if (Check(name, webhookUrl) is { } errors)
        {
            return new(null, errors);
        }

        var now = clock.GetUtcNow();
        var id = Ids.New("bot");
        var secret = WebhookSecrets.New();
        // The key first: a bot without its key could never call back, while a key without its bot sees nothing.
        var key = await credentials.CreateBotKeyAsync(companyId, id, cancellationToken);
        var bot = new Bot(id, companyId, name!.Trim(), webhookUrl!.Trim(), key.Key.Id, key.Key.Prefix, now, now);
        await store.CreateAsync(bot, secret, cancellationToken);
        await audit.WriteAsync(companyId, actor, "bot.created", $"bots/{id}", ["name", "webhookUrl"], cancellationToken);
        return new(new CreatedBot(bot, secret, key.Secret));
    }

    public Task<IReadOnlyList<Bot>> ListAsync(string companyId, CancellationToken cancellationToken = default) => store.ListAsync(companyId, cancellationToken);

    public Task<Bot?> GetAsync(string companyId, string botId, CancellationToken cancellationToken = default) => store.GetAsync(companyId, botId, cancellationToken);

    /// <summary>Null value and no errors: no such bot.</summary>
    public async Task<BotResult<Bot>> UpdateAsync(string companyId, string botId, string? name, string? webhookUrl, string actor, CancellationToken cancellationToken = default)
    {
        if (await store.GetAsync(companyId, botId, cancellationToken) is not { } bot)
        {
            return new(null);
        }

        if (Check(name, webhookUrl) is { } errors)
        {
            return new(null, errors);
        }

        var updated = bot with { Name = name!.Trim(), WebhookUrl = webhookUrl!.Trim(), UpdatedAt = clock.GetUtcNow() };
        if (!await store.UpdateAsync(updated, cancellationToken))
        {
            return new(null);
        }

        var changed = new List<string>();
        if (updated.Name != bot.Name)
        {
            changed.Add("name");
        }

        if (updated.WebhookUrl != bot.WebhookUrl)
        {
            changed.Add("webhookUrl");
        }

        await audit.WriteAsync(companyId, actor, "bot.updated", $"bots/{botId}", changed, cancellationToken);
        return new(updated);
    }

    /// <summary>Deletes the bot and revokes its key at once; false when there is no such bot.</summary>
    public async Task<bool> DeleteAsync(string companyId, string botId, string actor, CancellationToken cancellationToken = default)
    {
        if (await store.GetAsync(companyId, botId, cancellationToken) is not { } bot)
        {
            return false;
        }

        await credentials.RevokeBotKeyAsync(companyId, botId, bot.KeyId, cancellationToken);
        if (!await store.DeleteAsync(companyId, botId, cancellationToken))
        {
            return false;
        }

        await audit.WriteAsync(companyId, actor, "bot.deleted", $"bots/{botId}", null, cancellationToken);
        return true;
    }

    private Dictionary<string, string[]>? Check(string? name, string? webhookUrl)
    {
        var errors = new ValidationErrors();
        errors.Required("name", name, MaxNameLength);
        // The same rule as an omni channel's webhook URL: https, no literal private address (unless allowed for local use).
        if (errors.Required("webhookUrl", webhookUrl, MaxUrlLength) is { } url && TargetAddressPolicy.ValidateUrl(url, webhooks.Value.AllowPrivateTargets) is { } problem)
        {
            errors.Add("webhookUrl", problem);
        }

        return errors.IsValid ? null : errors.ToDictionary();
    }
}
