using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Conversations;

public static class ConversationsServiceCollectionExtensions
{
    public const string AttachmentsContainer = "attachments";

    public static IServiceCollection AddOmniConversations(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [ConversationRows.Table], containers: [AttachmentsContainer]);
        services.AddOptions<StorageOptions>().Configure<IOptions<ConversationOptions>>((storage, conversations) => 
        {
            storage.Queues.Add(conversations.Value.OutboundQueueName);
            storage.Tables.Add(conversations.Value.OutboxTableName);
        });
        services.AddOptions<ConversationOptions>().BindConfiguration(ConversationOptions.Section)
            .Validate(o => o.InFlightTimeout > TimeSpan.Zero, "Omni__Conversations__InFlightTimeout must be positive.")
            .Validate(o => o.OutboxGrace > TimeSpan.Zero, "Omni__Conversations__OutboxGrace must be positive.")
            .Validate(o => o.OutboundMaxAttempts >= 1, "Omni__Conversations__OutboundMaxAttempts must be at least 1.")
            .Validate(o => o.OutboundRetryDelay > TimeSpan.Zero && o.OutboundRetryMaxDelay >= o.OutboundRetryDelay && o.OutboundRetryMaxDelay <= TimeSpan.FromDays(7),
                "Omni__Conversations__OutboundRetryDelay must be positive and OutboundRetryMaxDelay between it and 7 days (the queue's limit).")
            .ValidateOnStart();
        services.AddMemoryCache();
        services.AddSingleton<ConversationOutbox>();
        services.AddSingleton<IConversationStore, TableConversationStore>();
        services.AddSingleton<OutboundQueue>();
        services.AddSingleton<AttachmentStore>();
        services.AddScoped<OutboundSender>();
        services.AddSingleton<InboundMessages>();
        // Needs IWebhookPublisher (AddOmniWebhooks): closing an omni channel's conversation tells its integrator.
        services.AddSingleton<OutboxHandOff>();
        services.AddSingleton<AgentMessages>();
        services.AddSingleton<BotReturns>();
        services.AddScoped<OutboxSweep>();
        return services;
    }
}
