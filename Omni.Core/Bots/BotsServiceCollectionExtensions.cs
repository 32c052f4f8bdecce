using Microsoft.Extensions.DependencyInjection;
using Omni.Storage;
using Omni.Webhooks;

namespace Omni.Bots;

public static class BotsServiceCollectionExtensions
{
    /// <summary>Bots (contract section 10): their registry and store, their webhooks as delivery targets, routing and the bot API.</summary>
    public static IServiceCollection AddOmniBots(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [TableBotStore.Table]);
        services.AddSingleton<IBotStore, TableBotStore>();
        services.AddSingleton<IWebhookTargets, BotWebhookTargets>();
        services.AddSingleton<BotRegistry>();
        services.AddSingleton<BotRouting>();
        services.AddSingleton<BotConversations>();
        return services;
    }
}
