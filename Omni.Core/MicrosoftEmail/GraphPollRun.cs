using Omni.Conversations;
using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>One poll of a Graph mailbox: who it is, the state row as last written, whether it holds the lease.</summary>
internal sealed class GraphPollRun(string owner, MailboxState state)
{
    public string Owner { get; } = owner;

    public MailboxState State { get; set; } = state;

    public bool Leased { get; set; }

    public MailPollCounts Counts { get; } = new();

    /// <summary>The poll's routing cache: a sender's second mail and a reply to a mail of this poll read nothing.</summary>
    public InboundRouteCache Routes { get; } = new();

    /// <summary>A message of a page failed and waits for the next poll: no later link may be saved past it.</summary>
    public bool Held { get; set; }
}
