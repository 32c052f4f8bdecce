using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Omni.Webchat;

/// <summary>
/// Agents' replies as they are sent, inside this process: the transport publishes, each open event stream of the
/// visitor listens. A stream that falls behind loses nothing: it reads the history again (<see cref="WebchatEventStream"/>).
/// </summary>
internal sealed class WebchatEvents
{
    private readonly ConcurrentDictionary<string, ImmutableSubscribers> _subscribers = new(StringComparer.Ordinal);

    public void Publish(string visitorKey, VisitorMessage message)
    {
        if (_subscribers.TryGetValue(visitorKey, out var listening))
        {
            foreach (var subscriber in listening.Items)
            {
                subscriber.Writer.TryWrite(message);
            }
        }
    }

    public Subscription Subscribe(string visitorKey)
    {
        var channel = Channel.CreateBounded<VisitorMessage>(new BoundedChannelOptions(100) { FullMode = BoundedChannelFullMode.DropOldest });
        _subscribers.AddOrUpdate(visitorKey, _ => new([channel]), (_, s) => new([.. s.Items, channel]));
        return new Subscription(channel.Reader, () =>
        {
            while (_subscribers.TryGetValue(visitorKey, out var current))
            {
                var rest = new ImmutableSubscribers(current.Items.Where(c => c != channel).ToArray());
                if (rest.Items.Length == 0 ? _subscribers.TryRemove(new KeyValuePair<string, ImmutableSubscribers>(visitorKey, current)) : _subscribers.TryUpdate(visitorKey, rest, current))
                {
                    return;
                }
            }
        });
    }

    public sealed class Subscription(ChannelReader<VisitorMessage> reader, Action unsubscribe) : IDisposable
    {
        public ChannelReader<VisitorMessage> Reader => reader;

        public void Dispose() => unsubscribe();
    }

    private sealed record ImmutableSubscribers(Channel<VisitorMessage>[] Items);
}

/// <summary>
/// A visitor's event stream: the agents' replies after the last one the visitor saw (from the history, so a
/// reconnect with <c>Last-Event-ID</c> neither loses nor repeats), then each reply as it is sent. When nothing
/// arrives for <see cref="WebchatOptions.EventsPollInterval"/> it reads the history again, which also catches a
/// reply another instance sent, and yields a null as a keep-alive (one comes first, once it listens).
/// </summary>
internal sealed class WebchatEventStream(WebchatEvents events, WebchatVisitors visitors, IOptions<WebchatOptions> options)
{
    /// <param name="after">The last message the visitor has (Last-Event-ID); null: only what is sent from now on.</param>
    public async IAsyncEnumerable<VisitorMessage?> ReadAsync(WebchatSession session, string? after, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var subscription = events.Subscribe(session.VisitorKey);
        // Subscribed first, then the starting point read: a reply sent in between is both live and in the history, and sent once.
        var from = after ?? (await visitors.ThreadAsync(session, null, cancellationToken)).LastOrDefault()?.Id ?? "";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // Listening from here on: said at once, so the page (and a proxy) sees the stream open before any reply.
        yield return null;
        while (!cancellationToken.IsCancellationRequested)
        {
            // Everything after the starting point that this stream has not sent, replies sent by another instance included.
            foreach (var missed in await visitors.ThreadAsync(session, from, cancellationToken))
            {
                if (missed.From == VisitorMessage.FromAgent && seen.Add(missed.Id))
                {
                    yield return missed;
                }
            }

            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idle.CancelAfter(options.Value.EventsPollInterval);
            var timedOut = false;
            while (!timedOut)
            {
                VisitorMessage? live = null;
                try
                {
                    live = await subscription.Reader.ReadAsync(idle.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    timedOut = true;
                }

                if (live is not null && seen.Add(live.Id))
                {
                    yield return live;
                }
            }

            yield return null;
        }
    }
}
