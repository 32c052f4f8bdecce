using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Email;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// <c>MaxConcurrentPollsPerCompany</c> across the MailboxPoll function: one company's 100 mailboxes never poll more
/// than its slots at once, the polls that find no slot are queued again (not dropped, not failed), and another
/// company's single mailbox is polled meanwhile. The email kind's poller is a stand-in that holds the first
/// company's polls open; an Azurite of its own keeps the queue to this test's messages.
/// </summary>
public sealed class MailboxPollFairnessTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int Slots = 4;
    private readonly HoldingPoller _poller = new();
    private AzuriteProcess _storage = null!;
    private OmniApp _app = null!;

    public async ValueTask InitializeAsync()
    {
        _storage = await AzuriteProcess.StartAsync();
        _app = new OmniApp(azurite,
            new Dictionary<string, string?> { ["AzureWebJobsStorage"] = _storage.ConnectionString, ["Omni:Quotas:MaxConcurrentPollsPerCompany"] = Slots.ToString() },
            services => services.AddKeyedSingleton<IMailboxPoller>(ChannelTypes.Email, _poller));
        _app.StartServer();
    }

    public async ValueTask DisposeAsync()
    {
        _poller.Release();
        await _app.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task OneCompanysHundredMailboxesHoldOnlyItsSlotsAndAnotherCompanysMailboxIsPolledMeanwhile()
    {
        var busy = Ids.New("cmp");
        var small = Ids.New("cmp");
        _poller.Holds = busy;
        var many = await PollQueue.MailboxesAsync(_app, 100, companyId: busy);
        var single = Assert.Single(await PollQueue.MailboxesAsync(_app, 1, companyId: small));
        var runner = _app.Services.GetRequiredService<MailboxPollRunner>();

        var runs = many.Select(id => Task.Run(() => runner.RunAsync($"{{\"companyId\":\"{busy}\",\"channelId\":\"{id}\"}}"))).ToList();
        await _poller.WaitForActiveAsync(busy, Slots);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (runs.Count(r => r.IsCompleted) < many.Count - Slots)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Only {runs.Count(r => r.IsCompleted)} polls returned while {Slots} were held.");
            await Task.Delay(50);
        }

        var other = await runner.RunAsync($"{{\"companyId\":\"{small}\",\"channelId\":\"{single}\"}}");

        Assert.NotNull(other);
        Assert.Equal(Slots, _poller.Active(busy));
        Assert.Equal(Slots, _poller.MostActive(busy));
        _poller.Release();
        await Task.WhenAll(runs);
        Assert.Equal(Slots, runs.Count(r => r.Result is not null));

        // Every poll that found no slot is on the queue again, once, counted as deferred.
        var requeued = await PollQueue.DrainAsync(_app);
        Assert.Equal(many.Count - Slots, requeued.Count);
        Assert.All(requeued, r => Assert.Equal((busy, 1), (r.CompanyId, r.Deferrals)));
        Assert.Equal(many.Count - Slots, requeued.Select(r => r.ChannelId).Distinct().Count());
    }

    /// <summary>Polls of the company it <see cref="Holds"/> stay open until <see cref="Release"/>; others return at once.</summary>
    private sealed class HoldingPoller : IMailboxPoller
    {
        private readonly ConcurrentDictionary<string, int> _active = new();
        private readonly ConcurrentDictionary<string, int> _most = new();
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? Holds { get; set; }

        public string ChannelType => ChannelTypes.Email;

        public int Active(string companyId) => _active.GetValueOrDefault(companyId);

        public int MostActive(string companyId) => _most.GetValueOrDefault(companyId);

        public void Release() => _released.TrySetResult();

        public async Task WaitForActiveAsync(string companyId, int count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (Active(companyId) < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"Only {Active(companyId)} polls of {companyId} started.");
                await Task.Delay(20);
            }
        }

        public async Task<PollResult> PollAsync(Channel channel, CancellationToken cancellationToken = default)
        {
            var now = _active.AddOrUpdate(channel.CompanyId, 1, (_, n) => n + 1);
            _most.AddOrUpdate(channel.CompanyId, now, (_, n) => Math.Max(n, now));
            try
            {
                if (channel.CompanyId == Holds)
                {
                    await _released.Task.WaitAsync(cancellationToken);
                }

                return new PollResult(0, 0, 0);
            }
            finally
            {
                _active.AddOrUpdate(channel.CompanyId, 0, (_, n) => n - 1);
            }
        }
    }
}
