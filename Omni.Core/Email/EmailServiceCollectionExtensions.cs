using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Omni.Channels;
using Omni.Conversations;
using Omni.Quotas;
using Omni.Security;
using Omni.Storage;

namespace Omni.Email;

public static class EmailServiceCollectionExtensions
{
    /// <summary>
    /// The <c>email</c> channel (IMAP/POP3 polling, SMTP sending, settings test) and the mail pieces every mail channel
    /// type shares: ingestion, quarantine, mailbox state and leases, poll scheduling, reply building.
    /// </summary>
    public static IServiceCollection AddOmniEmail(this IServiceCollection services)
    {
        services.AddStorageResources(tables: [MailboxStateStore.Table, MailQuarantine.Table, MailboxPollSchedule.Table, MailboxPollSlots.Table], queues: [MailboxPollScheduler.Queue], containers: [MailArchive.Container]);
        services.AddOptions<EmailOptions>().BindConfiguration(EmailOptions.Section)
            .Validate(o => o.MaxMessageBytes > 0, "Omni__Email__MaxMessageBytes must be positive.")
            .Validate(o => o.IngestBudgetBytes > 0, "Omni__Email__IngestBudgetBytes must be positive.")
            .Validate(o => o.OperationTimeout > TimeSpan.Zero && o.TestTimeout > TimeSpan.Zero, "Omni__Email__OperationTimeout and TestTimeout must be positive.")
            .Validate(o => o.PollTick >= TimeSpan.FromSeconds(1) && o.LeaseDuration > TimeSpan.Zero, "Omni__Email__PollTick must be at least a second and LeaseDuration positive.")
            .Validate(o => o.MaxMessagesPerPoll >= 1 && o.MaxMessageFailures >= 1, "Omni__Email__MaxMessagesPerPoll and MaxMessageFailures must be at least 1.")
            .Validate(o => string.IsNullOrEmpty(o.TrustedCertificatesFile) || File.Exists(o.TrustedCertificatesFile), "Omni__Email__TrustedCertificatesFile names a file that does not exist.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSafeConnector().AddSingleton<MailConnector>();
        services.AddSingleton<MailboxStateStore>();
        services.AddSingleton<MailArchive>();
        services.AddSingleton<MailQuarantine>();
        services.AddSingleton<MailFaults>();
        services.AddSingleton<IngestBudget>();
        services.AddSingleton<MailIngestor>();
        services.AddSingleton<MailReplyBuilder>();
        services.AddOmniQuotas();
        services.AddSingleton<MailboxPollSchedule>();
        services.AddSingleton<MailboxPollSlots>();
        services.AddSingleton<MailboxPollScheduler>();
        services.AddSingleton<MailboxPollRunner>();
        services.AddSingleton<ImapMailboxPoller>();
        services.AddSingleton<Pop3MailboxPoller>();
        services.AddSingleton<Pop3UidlStore>();
        services.AddChannelKind(ChannelTypes.Email, kind => kind.Settings<EmailSettingsRules>().Tester<EmailChannelTester>().Transport<SmtpOutboundTransport>().Poller<EmailMailboxPoller>());
        return services;
    }

    /// <summary>A channel kind's inbound side: its mailbox polled on its <c>pollSeconds</c> by the MailboxPollTimer and MailboxPoll functions.</summary>
    internal static ChannelKindBuilder Poller<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TPoller>(this ChannelKindBuilder kind) where TPoller : class, IMailboxPoller =>
        kind.Part<IMailboxPoller, TPoller>(ChannelPart.Inbound);
}
