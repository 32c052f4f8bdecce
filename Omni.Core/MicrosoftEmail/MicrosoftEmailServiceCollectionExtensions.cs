using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Email;

namespace Omni.MicrosoftEmail;

public static class MicrosoftEmailServiceCollectionExtensions
{
    /// <summary>
    /// The <c>microsoft-email</c> channel: Microsoft 365 mailboxes over Microsoft Graph, app-only. Needs
    /// <c>AddOmniEmail()</c>: ingestion, reply building, mailbox state and the poll schedule are the shared mail code.
    /// </summary>
    public static IServiceCollection AddOmniMicrosoftEmail(this IServiceCollection services)
    {
        services.AddOptions<MicrosoftGraphOptions>().BindConfiguration(MicrosoftGraphOptions.Section)
            .Validate(o => MicrosoftGraphOptions.IsAbsoluteHttps(o.GraphBaseUrl), "Omni__Microsoft__GraphBaseUrl must be an absolute https URL such as https://graph.microsoft.com/v1.0.")
            .Validate(o => MicrosoftGraphOptions.IsAbsoluteHttps(o.AuthorityHost), "Omni__Microsoft__AuthorityHost must be an absolute https URL such as https://login.microsoftonline.com/.")
            .Validate(o => o.MaxPagesPerPoll is >= 1 and <= 1000, "Omni__Microsoft__MaxPagesPerPoll must be between 1 and 1000.")
            .Validate(o => o.DefaultRetryAfter > TimeSpan.Zero, "Omni__Microsoft__DefaultRetryAfter must be positive.")
            .ValidateOnStart();
        services.AddHttpClient(GraphClientCache.GraphHttpClient, c => c.Timeout = TimeSpan.FromSeconds(100));
        services.AddHttpClient(GraphClientCache.TokenHttpClient, c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<GraphClientCache>();
        services.AddSingleton<GraphMailSender>();
        services.AddChannelKind(ChannelTypes.MicrosoftEmail, kind => kind.Settings<MicrosoftEmailSettingsRules>().Tester<MicrosoftEmailTester>().Transport<GraphOutboundTransport>().Poller<GraphMailboxPoller>());
        return services;
    }
}
