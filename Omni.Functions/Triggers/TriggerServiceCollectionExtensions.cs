namespace Omni.Functions.Triggers;

internal static class TriggerServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddOmniTriggers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TriggerOptions>().BindConfiguration(TriggerOptions.Section);
        builder.Services.AddOptions<TriggerRegistry>();
        builder.Services.AddSingleton<FunctionCatalog>();
        var options = builder.Configuration.GetSection(TriggerOptions.Section).Get<TriggerOptions>() ?? new TriggerOptions();
        if (LocalTriggerRunner.ShouldRun(options))
        {
            builder.Services.AddHostedService<LocalTriggerRunner>();
        }

        return builder;
    }
}
