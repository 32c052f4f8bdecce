using Omni.Email;

namespace Omni.Tests.Email;

/// <summary>When mailboxes fall due: fixed by the clock, so consecutive windows neither skip nor repeat a poll (what each run queued is in <see cref="MailboxPollFanOutTests"/>).</summary>
public sealed class MailboxPollSchedulerTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static List<DateTimeOffset> Over(string channelId, int pollSeconds, TimeSpan tick, int ticks) =>
        Enumerable.Range(0, ticks).SelectMany(i => MailboxPollScheduler.DueInstants(channelId, pollSeconds, Start + (tick * i), tick)).ToList();

    [Theory]
    [InlineData(10, 60)]
    [InlineData(60, 60)]
    [InlineData(45, 60)]
    [InlineData(300, 60)]
    [InlineData(10, 2)]
    public void ConsecutiveTicksYieldEveryDueInstantOnceAtTheChannelsInterval(int pollSeconds, int tickSeconds)
    {
        var tick = TimeSpan.FromSeconds(tickSeconds);
        var instants = Over("chn_a", pollSeconds, tick, 3600 / tickSeconds);

        Assert.Equal(3600 / pollSeconds, instants.Count);
        Assert.Equal(instants.Count, instants.Distinct().Count());
        Assert.All(instants.Zip(instants.Skip(1)), p => Assert.Equal(TimeSpan.FromSeconds(pollSeconds), p.Second - p.First));
    }

    [Fact]
    public void AnyChannelAtAnyTimeIsDueOncePerIntervalOverConsecutiveTicks()
    {
        var tick = TimeSpan.FromSeconds(2);
        for (var i = 0; i < 200; i++)
        {
            var id = $"chn_{Guid.NewGuid():N}";
            var start = new DateTimeOffset(DateTimeOffset.UtcNow.UtcTicks - (DateTimeOffset.UtcNow.UtcTicks % tick.Ticks), TimeSpan.Zero).AddSeconds(i * 2);
            var instants = Enumerable.Range(0, 5).SelectMany(k => MailboxPollScheduler.DueInstants(id, 10, start + (tick * k), tick)).ToList();

            Assert.Single(instants);
        }
    }

    [Fact]
    public void ATickThatFiresALittleEarlyOrLateStandsForItsOwnBoundary()
    {
        // Found live: the local timer fired at :41.999, and flooring put that run in the :40 window again.
        var boundary = new DateTimeOffset(2026, 11, 25, 10, 0, 42, TimeSpan.Zero);
        var early = boundary.AddMilliseconds(-1);
        var late = boundary.AddMilliseconds(700);

        Assert.Equal(boundary, MailboxPollScheduler.WindowOf(early, TimeSpan.FromSeconds(2)));
        Assert.Equal(boundary, MailboxPollScheduler.WindowOf(late, TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void MailboxesWithTheSameIntervalAreSpreadOverIt()
    {
        var seconds = Enumerable.Range(0, 50).Select(i => MailboxPollScheduler.DueInstants($"chn_{i}", 60, Start, TimeSpan.FromMinutes(1)).Single().Second).ToHashSet();

        Assert.True(seconds.Count > 20, $"Only {seconds.Count} distinct seconds for 50 mailboxes.");
    }
}
