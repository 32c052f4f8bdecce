namespace Omni.Email;

/// <summary>Settings of the e-mail feature (<c>Omni:Email</c>); the defaults suit production.</summary>
public sealed class EmailOptions
{
    public const string Section = "Omni:Email";

    /// <summary>Mail larger than this is quarantined (stored raw, listed in audit) instead of ingested.</summary>
    public long MaxMessageBytes { get; set; } = 25L * 1024 * 1024;

    /// <summary>
    /// The bytes of mail one process ingests at once, over all its polls (<see cref="IngestBudget"/>): each ingest
    /// holds its mail's size while it is read, parsed and stored, and waits while the budget is spent. A mail larger
    /// than the budget is ingested alone. Sized for a 512 MB instance: a few 25 MiB mails at once, not dozens.
    /// </summary>
    public long IngestBudgetBytes { get; set; } = 96L * 1024 * 1024;

    /// <summary>Connect, TLS and each protocol command must answer within this while polling and sending.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>"Testar Configurações" gives each server this long, so a wrong host or port answers quickly.</summary>
    public TimeSpan TestTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// The period of the MailboxPollTimer function's schedule: each tick enqueues the polls that fall due before
    /// the next one. Change it only together with the schedule (tests run the timer faster).
    /// </summary>
    public TimeSpan PollTick { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A poll holds its mailbox this long and renews it as it goes; a crashed poller's mailbox frees itself after it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>One poll takes at most this many messages; the rest wait for the next poll, so one huge mailbox cannot hold an instance.</summary>
    public int MaxMessagesPerPoll { get; set; } = 500;

    /// <summary>
    /// A message that fails this many polls (its server cannot send it, it cannot be parsed or stored) is quarantined
    /// as <c>unreadable</c> and the mailbox moves past it, so one bad message never stops the mail behind it.
    /// </summary>
    public int MaxMessageFailures { get; set; } = 3;

    /// <summary>
    /// A PEM file of extra certificates to trust for mail servers (a company's private CA; the tests' self-signed
    /// certificate). Host names are still checked.
    /// </summary>
    public string? TrustedCertificatesFile { get; set; }

    /// <summary>
    /// Lets mail hosts be loopback, private, link-local or cloud metadata addresses (local development and tests,
    /// whose Dovecot and Postfix run on loopback). Off in production: a channel's host must not reach the internal network.
    /// </summary>
    public bool AllowPrivateHosts { get; set; }
}
