using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.AspNetCore;
using OpenTelemetry;
using OpenTelemetry.Instrumentation.Http;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Omni.Storage;
using Omni.Telemetry;

namespace Omni.Functions.Hosting;

/// <summary>
/// Traces, metrics and logs to Azure Monitor when <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set, with the
/// app's managed identity (Bicep disables the resource's local auth). Without it nothing is registered: no listener
/// on the app's ActivitySource or Meter, so nothing is made, measured or exported.
/// </summary>
internal static class TelemetrySetup
{
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string ServiceName = "omni-channels";

    public static IHostApplicationBuilder AddOmniTelemetry(this IHostApplicationBuilder builder)
    {
        if (builder.Configuration[ConnectionStringSetting] is not { Length: > 0 } connectionString)
        {
            return builder;
        }

        var credential = Credential(builder.Configuration);
        builder.Services.AddOpenTelemetry()
            .UseAzureMonitor(o =>
            {
                o.ConnectionString = connectionString;
                o.Credential = credential;
            })
            .WithOmniSignals();
        return builder;
    }

    /// <summary>What the app adds to any OpenTelemetry pipeline (Azure Monitor's, or a test's in-memory one): its source and meter, the poison-queue gauge, redacted client URLs.</summary>
    public static OpenTelemetryBuilder WithOmniSignals(this OpenTelemetryBuilder otel)
    {
        otel.Services.AddSingleton<PoisonQueueGauge>();
        // A webhook URL may hold a token in its path, and Graph's paths name the mailbox: a client span keeps the host only.
        otel.Services.Configure<HttpClientTraceInstrumentationOptions>(o => o.EnrichWithHttpRequestMessage = (activity, request) =>
        {
            if (request.RequestUri is { IsAbsoluteUri: true } uri)
            {
                activity.SetTag("url.full", uri.GetLeftPart(UriPartial.Authority) + "/");
            }
        });
        return otel
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithTracing(t => t.AddSource(OmniTelemetry.Name))
            .WithMetrics(m => m.AddMeter(OmniTelemetry.Name).AddInstrumentation(sp => sp.GetRequiredService<PoisonQueueGauge>()));
    }

    /// <summary>
    /// The user-assigned identity Bicep gives the app (<c>AZURE_CLIENT_ID</c>, else the one storage uses); with none
    /// named but Entra auth asked for, DefaultAzureCredential; otherwise none (a connection string with local auth, as in development).
    /// </summary>
    private static TokenCredential? Credential(IConfiguration configuration)
    {
        var clientId = configuration["AZURE_CLIENT_ID"] is { Length: > 0 } id ? id : configuration[$"{StorageConnection.SettingName}:clientId"];
        if (clientId is { Length: > 0 })
        {
            return new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        }

        return configuration["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]?.Contains("Authorization=AAD", StringComparison.OrdinalIgnoreCase) == true
            ? new DefaultAzureCredential()
            : null;
    }
}
