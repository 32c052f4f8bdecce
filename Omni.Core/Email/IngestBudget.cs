using Microsoft.Extensions.Options;

namespace Omni.Email;

/// <summary>
/// The bytes of mail this process may be ingesting at once (<see cref="EmailOptions.IngestBudgetBytes"/>), over every
/// mailbox polled in it: an ingest reserves its mail's size before the memory-heavy work and gives it back after, and
/// waits (asynchronously, cancellably) while the budget is spent. A mail larger than the whole budget waits until
/// nothing else holds any and then takes it all, so it proceeds alone instead of never. Waiters are served in order,
/// so a large mail is not starved by a stream of small ones.
/// </summary>
public sealed class IngestBudget(IOptions<EmailOptions> options)
{
    private readonly long _total = options.Value.IngestBudgetBytes;
    private readonly object _gate = new();
    private readonly LinkedList<(long Bytes, TaskCompletionSource Ready)> _waiting = new();
    private long _inUse;

    public long Total => _total;

    /// <summary>Bytes reserved now.</summary>
    public long InUse
    {
        get
        {
            lock (_gate)
            {
                return _inUse;
            }
        }
    }

    /// <summary>The most bytes ever reserved at once: never above <see cref="Total"/>.</summary>
    public long Peak { get; private set; }

    /// <summary>Reservations that had to wait for others to finish.</summary>
    public long Waits { get; private set; }

    /// <summary>Holds <paramref name="bytes"/> (at most the whole budget) until the returned lease is disposed.</summary>
    public async ValueTask<IDisposable> ReserveAsync(long bytes, CancellationToken cancellationToken = default)
    {
        var wanted = Math.Clamp(bytes, 1, _total);
        LinkedListNode<(long, TaskCompletionSource)> node;
        lock (_gate)
        {
            if (_waiting.Count == 0 && _inUse + wanted <= _total)
            {
                Take(wanted);
                return new Lease(this, wanted);
            }

            Waits++;
            node = _waiting.AddLast((wanted, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));
        }

        try
        {
            await node.Value.Item2.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            lock (_gate)
            {
                if (node.List is not null)
                {
                    _waiting.Remove(node);
                    Grant();
                    throw;
                }
            }

            // Granted as the wait was cancelled: the bytes are ours, so give them back.
            Release(wanted);
            throw;
        }

        return new Lease(this, wanted);
    }

    private void Take(long bytes)
    {
        _inUse += bytes;
        Peak = Math.Max(Peak, _inUse);
    }

    private void Release(long bytes)
    {
        lock (_gate)
        {
            _inUse -= bytes;
            Grant();
        }
    }

    // Called under the lock: hands the freed bytes to the waiters at the head of the line, in order.
    private void Grant()
    {
        while (_waiting.First is { } first && _inUse + first.Value.Bytes <= _total)
        {
            _waiting.RemoveFirst();
            Take(first.Value.Bytes);
            first.Value.Ready.TrySetResult();
        }
    }

    private sealed class Lease(IngestBudget budget, long bytes) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                budget.Release(bytes);
            }
        }
    }
}
