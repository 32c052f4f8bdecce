using Omni.Validation;
using Omni.Voice;

namespace Omni.Tests.Voice;

/// <summary>
/// The route decision as a pure function, over many instants and zones: the state it reports matches the zone's wall
/// clock, it holds until <c>nextChange</c> and flips there. Zones: America/Sao_Paulo across its last DST years (it
/// dropped DST in 2019, with transitions at local midnight), America/New_York and Europe/Lisbon (DST today),
/// Australia/Lord_Howe (a 30-minute DST) and Asia/Kolkata (+05:30, none).
/// </summary>
public sealed class IvrRouteTests
{
    public static readonly TheoryData<string, int> Zones = new()
    {
        { "America/Sao_Paulo", 2017 },
        { "America/Sao_Paulo", 2018 },
        { "America/Sao_Paulo", 2019 },
        { "America/Sao_Paulo", 2026 },
        { "America/New_York", 2026 },
        { "Europe/Lisbon", 2026 },
        { "Australia/Lord_Howe", 2026 },
        { "Asia/Kolkata", 2026 },
    };

    private static readonly IvrDayDraft[] Weekdays = Enumerable.Range(0, 5)
        .Select(i => new IvrDayDraft(new[] { "monday", "tuesday", "wednesday", "thursday", "friday" }[i], "08:00", "18:00")).ToArray();

    // Windows that touch midnight and sit where the DST jumps of these zones fall (00:00 in Sao Paulo, 01:00–03:00 elsewhere).
    private static readonly IvrDayDraft[] AroundMidnight =
    [
        new("saturday", "22:00", "24:00"), new("sunday", "00:00", "00:30"), new("sunday", "01:15", "02:30"),
        new("sunday", "23:00", "24:00"), new("monday", "00:00", "09:00"), new("wednesday", "12:00", "12:01"),
    ];

    [Theory]
    [MemberData(nameof(Zones))]
    public void TheStateHoldsUntilNextChangeAndFlipsThereOnWeekdays(string zone, int year) =>
        AssertSchedule(Ivr(zone, Weekdays, holidays: [$"{year}-11-02", $"{year}-11-15"]), year, seed: 1);

    [Theory]
    [MemberData(nameof(Zones))]
    public void TheStateHoldsUntilNextChangeAndFlipsThereAroundMidnightAndDstJumps(string zone, int year) =>
        AssertSchedule(Ivr(zone, AroundMidnight), year, seed: 2);

    [Theory]
    [MemberData(nameof(Zones))]
    public void AnAlwaysOpenIvrClosesOnlyOnItsHolidays(string zone, int year) =>
        AssertSchedule(Ivr(zone, [], alwaysOpen: true, holidays: [$"{year}-03-29", $"{year}-10-27", $"{year}-11-04"]), year, seed: 3);

    [Fact]
    public void AFridayEveningInNewYorkReopensOnMondayAtNineDaylightTimeAfterTheSpringForward()
    {
        var ivr = Ivr("America/New_York", Weekdays.Select(d => d with { Open = "09:00", Close = "17:00" }).ToArray());

        var decision = IvrRoute.Decide(ivr, DateTimeOffset.Parse("2026-03-06T22:00:00Z"));

        Assert.False(decision.Open);
        Assert.Equal(IvrPromptKind.Closed, decision.PromptKind);
        Assert.Empty(decision.Menu);
        Assert.Equal(TimeSpan.FromHours(-5), decision.LocalTime.Offset);
        Assert.Equal(DateTimeOffset.Parse("2026-03-09T13:00:00Z"), decision.NextChange);
    }

    [Fact]
    public void AWindowStartingInTheHourSaoPauloSkippedOpensWhenTheClocksJumped()
    {
        // 2018-11-04 00:00 did not exist in Sao Paulo: the clocks went from 23:59:59 -03:00 to 01:00 -02:00 (03:00Z).
        var ivr = Ivr("America/Sao_Paulo", [new IvrDayDraft("sunday", "00:00", "02:00")]);

        var saturdayNight = IvrRoute.Decide(ivr, DateTimeOffset.Parse("2018-11-04T02:30:00Z"));
        var afterTheJump = IvrRoute.Decide(ivr, DateTimeOffset.Parse("2018-11-04T03:00:00Z"));

        Assert.False(saturdayNight.Open);
        Assert.Equal(DateTimeOffset.Parse("2018-11-04T03:00:00Z"), saturdayNight.NextChange);
        Assert.True(afterTheJump.Open);
        Assert.Equal(new DateTimeOffset(2018, 11, 4, 1, 0, 0, TimeSpan.FromHours(-2)), afterTheJump.LocalTime);
        Assert.Equal(DateTimeOffset.Parse("2018-11-04T04:00:00Z"), afterTheJump.NextChange);
    }

    [Fact]
    public void AWindowInTheHourSaoPauloRepeatedIsOpenBothTimesTheClocksShowIt()
    {
        // 2019-02-17 00:00 -02:00 (02:00Z) became 2019-02-16 23:00 -03:00: Saturday 23:00–24:00 happened twice.
        var ivr = Ivr("America/Sao_Paulo", [new IvrDayDraft("saturday", "23:00", "24:00")]);

        var first = IvrRoute.Decide(ivr, DateTimeOffset.Parse("2019-02-17T01:30:00Z"));

        Assert.True(first.Open);
        Assert.Equal(DateTimeOffset.Parse("2019-02-17T03:00:00Z"), first.NextChange);
    }

    [Fact]
    public void AHolidayClosesItsLocalDateAndTheMenuIsOfferedOnlyWhenOpen()
    {
        var ivr = Ivr("America/Sao_Paulo", Weekdays, holidays: ["2026-12-25"]);

        var christmas = IvrRoute.Decide(ivr, DateTimeOffset.Parse("2026-12-25T14:00:00Z"));
        var nextDay = IvrRoute.Decide(ivr, DateTimeOffset.Parse("2026-12-24T14:00:00Z"));

        Assert.False(christmas.Open);
        Assert.Equal("closed text", christmas.Prompt.Text);
        Assert.Equal(DateTimeOffset.Parse("2026-12-28T11:00:00Z"), christmas.NextChange);
        Assert.True(nextDay.Open);
        Assert.Equal("welcome text", nextDay.Prompt.Text);
        Assert.Equal(["1", "2"], nextDay.Menu.Select(m => m.Digit));
    }

    private static void AssertSchedule(Ivr ivr, int year, int seed)
    {
        var zone = ivr.Schedule.Zone;
        var random = new Random(seed ^ zone.Id.GetHashCode(StringComparison.Ordinal) ^ year);
        var start = new DateTimeOffset(year, 1, 1, 0, 0, 0, TimeSpan.Zero);
        // Random instants over the year, and the minutes around each of the zone's offset changes in it.
        var instants = Enumerable.Range(0, 50).Select(_ => start.AddSeconds(random.NextInt64(365L * 24 * 3600))).ToList();
        for (var at = start; at < start.AddYears(1); at = at.AddHours(1))
        {
            if (zone.GetUtcOffset(at) != zone.GetUtcOffset(at.AddHours(1)))
            {
                instants.AddRange(Enumerable.Range(-120, 240).Where(m => m % 13 == 0).Select(m => at.AddMinutes(m + 30)));
            }
        }

        foreach (var instant in instants)
        {
            var decision = IvrRoute.Decide(ivr, instant);
            var open = Oracle(ivr.Schedule, instant);
            Assert.True(open == decision.Open, $"{zone.Id} at {instant:O}: expected open={open}");
            Assert.Equal(TimeZoneInfo.ConvertTime(instant, zone), decision.LocalTime);
            Assert.Equal(TimeZoneInfo.ConvertTime(instant, zone).Offset, decision.LocalTime.Offset);

            // Changes happen on whole minutes: every minute up to nextChange keeps the state, and nextChange flips it.
            var limit = decision.NextChange ?? instant.AddDays(3);
            for (var m = CeilingMinute(instant); m < limit && m < instant.AddDays(3); m = m.AddMinutes(1))
            {
                Assert.True(Oracle(ivr.Schedule, m) == open, $"{zone.Id}: from {instant:O} the state changed at {m:O}, before nextChange {decision.NextChange:O}");
            }

            if (decision.NextChange is { } change)
            {
                Assert.True(change > instant);
                Assert.True(Oracle(ivr.Schedule, change) != open, $"{zone.Id}: nextChange {change:O} from {instant:O} does not change the state");
            }
        }
    }

    /// <summary>The definition, written out independently: the wall clock in the zone, the weekday's windows, the holidays.</summary>
    private static bool Oracle(IvrSchedule schedule, DateTimeOffset instant)
    {
        var local = TimeZoneInfo.ConvertTime(instant.UtcDateTime, schedule.Zone);
        if (schedule.Holidays.Contains(new DateOnly(local.Year, local.Month, local.Day)))
        {
            return false;
        }

        var minute = (local.Hour * 60) + local.Minute;
        return schedule.AlwaysOpen || schedule.Windows.Any(w => w.Day == local.DayOfWeek && minute >= w.OpenMinute && minute < w.CloseMinute);
    }

    private static DateTimeOffset CeilingMinute(DateTimeOffset instant)
    {
        var floor = new DateTimeOffset(instant.UtcTicks - (instant.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
        return floor == instant ? floor : floor.AddMinutes(1);
    }

    internal static Ivr Ivr(string zone, IvrDayDraft[] days, bool alwaysOpen = false, string[]? holidays = null)
    {
        var errors = new ValidationErrors();
        var ivr = IvrRules.Parse(new IvrDraft("URA", "BR", "11", "+551130000000",
            new IvrScheduleDraft(alwaysOpen, zone, days, holidays?.Select(h => new IvrHolidayDraft(h, true)).ToList()),
            new IvrMessageDraft("welcome text", null, null), new IvrMessageDraft("closed text", null, null), new IvrMessageDraft("unanswered text", null, null),
            [new IvrMenuDraft("1", "svc_a"), new IvrMenuDraft("2", "svc_b")]), errors);
        Assert.True(ivr is not null, string.Join("; ", errors.ToDictionary().Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        return ivr;
    }
}
