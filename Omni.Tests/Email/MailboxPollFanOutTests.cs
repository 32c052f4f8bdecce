using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Email;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// The MailboxPollTimer's fan-out over 300 mailboxes in Azurite: each mailbox queued exactly once per window when
/// two runs overlap, when a run comes late, when a window's run never comes, and when a run fails midway. Each test
/// has an Azurite of its own, so the queue holds only its polls and is read to the last (invisible ones included).
/// </summary>
public sealed class MailboxPollFanOutTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int Mailboxes = 300;
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(10);
    private AzuriteProcess _storage = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _storage = await AzuriteProcess.StartAsync();
        // Ticks of 10 s and mailboxes polled every 10 s: each mailbox is due exactly once in every window.
        _app = new OmniApp(azurite, new Dictionary<string, string?> { ["AzureWebJobsStorage"] = _storage.ConnectionString, ["Omni:Email:PollTick"] = "00:00:10" });
        _app.StartServer();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _storage.DisposeAsync();
    }

    private MailboxPollScheduler Scheduler => _app.Services.GetRequiredService<MailboxPollScheduler>();

    [Fact]
    public async Task EveryMailboxIsQueuedOncePerWindowWhenTwoRunsOverlapAndALateRunFollows()
    {
        var ids = await PollQueue.MailboxesAsync(_app, Mailboxes, companies: 3);
        var window = MailboxPollScheduler.WindowOf(DateTimeOffset.UtcNow, Tick);

        // Two instances' timers at once (one a little early), then one that fired late in the same window.
        var overlapping = await Task.WhenAll(Scheduler.TickAsync(window), Scheduler.TickAsync(window.AddMilliseconds(-5)));
        var late = await Scheduler.TickAsync(window + TimeSpan.FromSeconds(4));

        Assert.Equal(Mailboxes, overlapping.Sum() + late);
        var polls = await PollQueue.DrainAsync(_app);
        Assert.All(ids, id => Assert.Equal(1, polls.Count(p => p.ChannelId == id)));
        Assert.Equal(Mailboxes, polls.Count);
    }

    [Fact]
    public async Task AWindowWhoseRunNeverCameIsPolledOnceByTheNextRunNotSkipped()
    {
        var ids = await PollQueue.MailboxesAsync(_app, Mailboxes, companies: 3);
        var window = MailboxPollScheduler.WindowOf(DateTimeOffset.UtcNow, Tick);
        await Scheduler.TickAsync(window);
        await PollQueue.DrainAsync(_app);

        // The run of window + 1 tick never happened; the run of window + 2 ticks makes up for it.
        var queued = await Scheduler.TickAsync(window + (2 * Tick));

        Assert.Equal(2 * Mailboxes, queued);
        var polls = await PollQueue.DrainAsync(_app);
        Assert.All(ids, id => Assert.Equal(2, polls.Count(p => p.ChannelId == id)));
    }

    [Fact]
    public async Task ARunThatFailsMidwayLeavesTheRestToTheNextRunWithoutRepeatingAny()
    {
        const int before = 150;
        var ids = await PollQueue.MailboxesAsync(_app, Mailboxes, companies: 3);
        var window = MailboxPollScheduler.WindowOf(DateTimeOffset.UtcNow, Tick);
        var failing = new MailboxPollScheduler(
            _app.Services.GetRequiredService<IChannelStore>(),
            _app.Services.GetRequiredService<IEnumerable<IMailboxPoller>>(),
            _app.Services.GetRequiredService<MailboxPollSchedule>(),
            new FailingQueues(_storage.ConnectionString, before),
            _app.Services.GetRequiredService<IOptions<EmailOptions>>(),
            TimeProvider.System,
            NullLogger<MailboxPollScheduler>.Instance);

        await Assert.ThrowsAnyAsync<RequestFailedException>(() => failing.TickAsync(window));
        var rest = await Scheduler.TickAsync(window);

        Assert.Equal(Mailboxes - before, rest);
        var polls = await PollQueue.DrainAsync(_app);
        Assert.All(ids, id => Assert.Equal(1, polls.Count(p => p.ChannelId == id)));
    }

    /// <summary>The app's queue, except that every send after the first <c>failAfter</c> fails as an outage would.</summary>
    private sealed class FailingQueues : QueueServiceClient
    {
        private readonly string _connectionString;
        private readonly int _failAfter;
        private int _sends;

        public FailingQueues(string connectionString, int failAfter)
            : base(connectionString, PollQueue.Options)
        {
            _connectionString = connectionString;
            _failAfter = failAfter;
        }

        public override QueueClient GetQueueClient(string queueName) => new FailingQueue(this, queueName);

        private sealed class FailingQueue(FailingQueues owner, string queueName) : QueueClient(owner._connectionString, queueName, PollQueue.Options)
        {
            public override Task<Response<SendReceipt>> SendMessageAsync(string messageText, TimeSpan? visibilityTimeout = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default) =>
                Interlocked.Increment(ref owner._sends) > owner._failAfter
                    ? throw new RequestFailedException(503, "The queue service is unavailable (test).")
                    : base.SendMessageAsync(messageText, visibilityTimeout, timeToLive, cancellationToken);
        }
    }
}

/// <summary>Mailboxes written straight to the store, and the mailbox-polls queue read to its end.</summary>
internal static class PollQueue
{
    public static readonly QueueClientOptions Options = new() { MessageEncoding = QueueMessageEncoding.Base64 };

    /// <summary><paramref name="count"/> email channels polled every 10 s, spread over <paramref name="companies"/> new companies.</summary>
    public static async Task<List<string>> MailboxesAsync(OmniApp app, int count, int companies = 1, string? companyId = null)
    {
        var store = app.Services.GetRequiredService<IChannelStore>();
        var owners = companyId is null ? Enumerable.Range(0, companies).Select(_ => Ids.New("cmp")).ToList() : [companyId];
        var now = DateTimeOffset.UtcNow;
        var made = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            var settings = new JsonObject { ["address"] = $"box{i}@acme.example", ["pollSeconds"] = 10 };
            var channel = new Channel(Ids.New("chn"), owners[i % owners.Count], ChannelTypes.Email, $"box {i}", "svc", settings, new Dictionary<string, string>(), now, now);
            return (await store.CreateAsync(channel, new Dictionary<string, string>())).Id;
        }));
        return [.. made];
    }

    /// <summary>Every message on the queue, visible now or later, each taken off it; waits until none is left.</summary>
    public static async Task<List<MailboxPollRequest>> DrainAsync(OmniApp app, TimeSpan? timeout = null)
    {
        var queue = app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(MailboxPollScheduler.Queue);
        var polls = new List<MailboxPollRequest>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while ((await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The queue still holds messages after {polls.Count} were read.");
            var batch = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5))).Value;
            foreach (var message in batch)
            {
                polls.Add(JsonSerializer.Deserialize<MailboxPollRequest>(message.MessageText, JsonSerializerOptions.Web)!);
                await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }

            if (batch.Length == 0)
            {
                await Task.Delay(250);
            }
        }

        return polls;
    }
}
