using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Omni.Functions.Hosting;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Hosting;

/// <summary>
/// An idle instance gives back the memory its garbage collector keeps for allocation: once, when nothing has been in
/// flight for a while, never while work runs, and not more often than the minimum interval however short the gaps.
/// </summary>
public sealed class IdleMemoryTrimTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan IdleFor = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AProcessThatWentIdleTrimsOnceAndAgainOnlyAfterMoreWork()
    {
        await using var trimmer = new Trimmer();

        await trimmer.AdvanceUntilAsync(() => trimmer.Trims.Count == 1, "the trim after start-up");
        await trimmer.AdvanceAsync(TimeSpan.FromMinutes(2));
        Assert.Single(trimmer.Trims);

        trimmer.Work.Begin().Dispose();
        await trimmer.AdvanceUntilAsync(() => trimmer.Trims.Count == 2, "the trim after the work");
        Assert.True(trimmer.Trims[1] - trimmer.WorkEndedAt >= IdleFor, $"trimmed {trimmer.Trims[1] - trimmer.WorkEndedAt} after the work ended");
    }

    [Fact]
    public async Task WorkInFlightHoldsTheTrimBackUntilItEnds()
    {
        await using var trimmer = new Trimmer();
        var request = trimmer.Work.Begin();

        await trimmer.AdvanceAsync(TimeSpan.FromMinutes(2));
        Assert.Empty(trimmer.Trims);

        request.Dispose();
        await trimmer.AdvanceUntilAsync(() => trimmer.Trims.Count == 1, "the trim once the request ended");
    }

    [Fact]
    public async Task ShortGapsBetweenRequestsTrimNoMoreOftenThanTheMinimumInterval()
    {
        await using var trimmer = new Trimmer();
        await trimmer.AdvanceUntilAsync(() => trimmer.Trims.Count == 1, "the trim after start-up");

        // A request a second for twenty seconds: every gap is longer than the idle wait.
        for (var i = 0; i < 20; i++)
        {
            trimmer.Work.Begin().Dispose();
            await trimmer.AdvanceAsync(TimeSpan.FromSeconds(1));
        }

        Assert.Single(trimmer.Trims);
        await trimmer.AdvanceUntilAsync(() => trimmer.Trims.Count == 2, "the trim after the interval");
        Assert.True(trimmer.Trims[1] - trimmer.Trims[0] >= MinInterval, $"trimmed {trimmer.Trims[1] - trimmer.Trims[0]} after the previous trim");
        await trimmer.AdvanceAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(2, trimmer.Trims.Count);
    }

    [Fact]
    public void TheTrimRunsByDefaultAndZeroTurnsItOff()
    {
        Assert.True(TrimmerRegistered([]));
        Assert.False(TrimmerRegistered(new() { ["Omni:Memory:TrimWhenIdleFor"] = "00:00:00" }));
    }

    [Theory]
    [InlineData("TrimWhenIdleFor", "-00:00:01")]
    [InlineData("TrimWhenIdleFor", "02:00:00")]
    [InlineData("MinTrimInterval", "00:00:00")]
    public void AnOutOfRangeSettingStopsTheStartNamingIt(string setting, string value)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["Omni:Memory:" + setting] = value;
        builder.AddIdleMemoryTrim();
        using var services = builder.Services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("Omni__Memory__" + setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryRequestCountsAsWorkUntilItsAnswerIsWritten()
    {
        await using var app = new OmniApp(azurite);
        using var client = app.Anonymous();
        var work = app.Services.GetRequiredService<WorkInFlight>();
        var before = work.Started;

        using var response = await client.GetAsync("/api/health");

        response.EnsureSuccessStatusCode();
        Assert.Equal(before + 1, work.Started);
        Assert.Equal(0, work.Count);
    }

    private static bool TrimmerRegistered(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }

        builder.AddIdleMemoryTrim();
        return builder.Services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(IdleMemoryTrimmer));
    }

    /// <summary>The trimmer on a fake clock, recording when it would have collected instead of collecting.</summary>
    private sealed class Trimmer : IAsyncDisposable
    {
        private readonly FakeTimeProvider _clock = new();
        private readonly IdleMemoryTrimmer _trimmer;
        private readonly List<DateTimeOffset> _trims = [];

        public Trimmer()
        {
            _trimmer = new IdleMemoryTrimmer(Work, Options.Create(new MemoryOptions { TrimWhenIdleFor = IdleFor, MinTrimInterval = MinInterval }), _clock, NullLogger<IdleMemoryTrimmer>.Instance)
            {
                Trim = () =>
                {
                    lock (_trims)
                    {
                        _trims.Add(_clock.GetUtcNow());
                    }
                },
            };
            _trimmer.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        public WorkInFlight Work { get; } = new();

        public IReadOnlyList<DateTimeOffset> Trims
        {
            get
            {
                lock (_trims)
                {
                    return [.. _trims];
                }
            }
        }

        /// <summary>The fake time at which the last advance began, which in these tests is when the work before it ended.</summary>
        public DateTimeOffset WorkEndedAt { get; private set; }

        /// <summary>Moves the clock in small steps, letting the trimmer's loop run between them, as real time would.</summary>
        public async Task AdvanceAsync(TimeSpan total)
        {
            WorkEndedAt = _clock.GetUtcNow();
            var step = TimeSpan.FromMilliseconds(100);
            for (var elapsed = TimeSpan.Zero; elapsed < total; elapsed += step)
            {
                _clock.Advance(step);
                await Task.Delay(1);
            }
        }

        public async Task AdvanceUntilAsync(Func<bool> condition, string what)
        {
            WorkEndedAt = _clock.GetUtcNow();
            for (var i = 0; i < 10_000 && !condition(); i++)
            {
                _clock.Advance(TimeSpan.FromMilliseconds(100));
                await Task.Delay(1);
            }

            Assert.True(condition(), $"No {what} within 1,000 s of fake time.");
        }

        public async ValueTask DisposeAsync()
        {
            await _trimmer.StopAsync(CancellationToken.None);
            _trimmer.Dispose();
        }
    }
}
