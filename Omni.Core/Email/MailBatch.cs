namespace Omni.Email;

/// <summary>
/// Mail a poller has read ahead of storing it, in mailbox order, for <see cref="MailIngestor.IngestBatchAsync{TKey}"/>:
/// each message's body (a copy this batch owns until it is disposed) or the fault that kept it from being read.
/// <typeparamref name="TKey"/> is the poller's own handle of a message (a POP3 index, a Graph id), handed back with
/// its outcome so the poller acknowledges exactly what was stored. Disposing it (storing it does) empties it, and
/// it may be filled again.
/// </summary>
internal sealed class MailBatch<TKey> : IAsyncDisposable
{
    private readonly List<Item> _items = [];

    public int Count => _items.Count;

    /// <summary>The bytes of the bodies read so far (what a batch may hold is <see cref="MailIngestor.BatchBytes"/>).</summary>
    public long Bytes { get; private set; }

    /// <summary>Full: the next message goes into the next batch.</summary>
    public bool IsFull => _items.Count >= MailIngestor.BatchSize || Bytes >= MailIngestor.BatchBytes;

    internal IReadOnlyList<Item> Items => _items;

    public void Add(TKey key, string providerId, Stream body)
    {
        _items.Add(new Item(key, providerId, body, null));
        Bytes += body.Length;
    }

    /// <summary>A message whose body could not be read: it keeps its place, and fails alone.</summary>
    public void Failed(TKey key, string providerId, Exception fault) => _items.Add(new Item(key, providerId, null, fault));

    public async ValueTask DisposeAsync()
    {
        foreach (var item in _items)
        {
            if (item.Body is not null)
            {
                await item.Body.DisposeAsync();
            }
        }

        _items.Clear();
        Bytes = 0;
    }

    internal sealed record Item(TKey Key, string ProviderId, Stream? Body, Exception? Fault);
}

/// <summary>What a poll did so far: the three counts of its <see cref="PollResult"/>.</summary>
internal sealed class MailPollCounts
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
