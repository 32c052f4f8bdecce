using Omni.Email;

namespace Omni.MicrosoftEmail;

/// <summary>One poll of a Graph mailbox: who it is, the state row as last written, whether it holds the lease.</summary>
internal sealed class GraphPollRun(string owner, MailboxState state)
{
    public string Owner { get; } = owner;

    public MailboxState State { get; set; } = state;

    public bool Leased { get; set; }

    public GraphPollCounts Counts { get; } = new();

    /// <summary>A message of a page failed and waits for the next poll: no later link may be saved past it.</summary>
    public bool Held { get; set; }
}

/// <summary>What a poll did so far.</summary>
internal sealed class GraphPollCounts
{
    public int Ingested { get; private set; }

    public int Duplicates { get; private set; }

    public int Quarantined { get; private set; }

    public int Total => Ingested + Duplicates + Quarantined;

    public void Add(IngestOutcome outcome)
    {
        switch (outcome)
        {
            case IngestOutcome.Ingested: Ingested++; break;
            case IngestOutcome.Duplicate: Duplicates++; break;
            default: Quarantined++; break;
        }
    }

    public PollResult Result(TimeSpan? retryAfter = null) => new(Ingested, Duplicates, Quarantined, retryAfter);
}
