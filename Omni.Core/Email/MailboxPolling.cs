using Omni.Channels;

namespace Omni.Email;

/// <summary>What one poll of a mailbox did, for logs and the benchmark; an idle poll ingests nothing and writes nothing.</summary>
public sealed record PollResult(int Ingested, int Duplicates, int Quarantined, TimeSpan? RetryAfter = null);

/// <summary>
/// Polls one mailbox of one channel type (IMAP/POP3 for <c>email</c>, Graph for <c>microsoft-email</c>). Called by
/// the mailbox poll queue function while it holds that mailbox's lease, so no mailbox is polled twice at once.
/// </summary>
public interface IMailboxPoller
{
    string ChannelType { get; }

    Task<PollResult> PollAsync(Channel channel, CancellationToken cancellationToken = default);
}
