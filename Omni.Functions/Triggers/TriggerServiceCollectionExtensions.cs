namespace Omni.Functions.Triggers;

internal static class TriggerServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddOmniTriggers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TriggerOptions>().BindConfiguration(TriggerOptions.Section)
            .Validate(o => o.MaxDequeueCount >= 1, "Omni__Triggers__MaxDequeueCount must be at least 1.")
            .Validate(o => o.BatchSize is >= 1 and <= 32, "Omni__Triggers__BatchSize must be between 1 and 32 (the queue service's limit).")
            .Validate(o => o.VisibilityTimeout > TimeSpan.Zero && o.VisibilityTimeout <= TimeSpan.FromDays(7), "Omni__Triggers__VisibilityTimeout must be positive and at most 7 days.")
            .Validate(o => o.RetryDelay >= TimeSpan.Zero && o.MaxPollingInterval > TimeSpan.Zero, "Omni__Triggers__RetryDelay and MaxPollingInterval must not be negative.")
            .ValidateOnStart();
        builder.Services.AddOptions<TriggerRegistry>();
        builder.Services.AddSingleton<FunctionCatalog>();
        var options = builder.Configuration.GetSection(TriggerOptions.Section).Get<TriggerOptions>() ?? new TriggerOptions();
        if (LocalTriggerRunner.ShouldRun(options, builder.Configuration))
        {
            builder.Services.AddHostedService<LocalTriggerRunner>();
        }

        return builder;
    }
}
