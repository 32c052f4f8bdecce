namespace Omni.Voice;

/// <summary>Which message an IVR plays first at an instant.</summary>
internal enum IvrPromptKind
{
    Welcome,
    Closed,
}

/// <summary>
/// What an IVR does at one instant: open or closed, the message it plays first, the menu it offers (empty when
/// closed), the wall-clock time in its zone and the next instant at which open/closed changes (null: never, or not
/// within <see cref="IvrRoute.HorizonDays"/>).
/// </summary>
internal sealed record IvrDecision(bool Open, IvrPromptKind PromptKind, IvrMessage Prompt, IReadOnlyList<IvrMenuItem> Menu, string TimeZone, DateTimeOffset LocalTime, DateTimeOffset? NextChange);

/// <summary>
/// The route decision, a pure function of the IVR and the instant, for the API's <c>?at=</c> and for the call flow.
/// Open means the local wall-clock time in the IVR's zone lies in one of that weekday's windows and the local date
/// is no holiday. So across DST: a window that starts in the hour a spring-forward skips opens when the clocks jump,
/// and a window in the hour a fall-back repeats is open both times the clocks show it.
/// </summary>
internal static class IvrRoute
{
    /// <summary>How far ahead <see cref="IvrDecision.NextChange"/> is looked for: past a year of holidays.</summary>
    public const int HorizonDays = 400;

    // Offsets lie within UTC-12 and UTC+14: a local day's instants start no earlier than its wall-clock start - 14 h.
    private static readonly TimeSpan MaxOffset = TimeSpan.FromHours(14);

    public static IvrDecision Decide(Ivr ivr, DateTimeOffset instant)
    {
        var schedule = ivr.Schedule;
        var open = IsOpen(schedule, instant);
        return new IvrDecision(open, open ? IvrPromptKind.Welcome : IvrPromptKind.Closed, open ? ivr.Welcome : ivr.Closed, open ? ivr.Menu : [],
            schedule.Zone.Id, TimeZoneInfo.ConvertTime(instant, schedule.Zone), NextChange(schedule, instant, open));
    }

    public static bool IsOpen(IvrSchedule schedule, DateTimeOffset instant)
    {
        var local = TimeZoneInfo.ConvertTime(instant, schedule.Zone).DateTime;
        if (schedule.Holidays.Contains(DateOnly.FromDateTime(local)))
        {
            return false;
        }

        if (schedule.AlwaysOpen)
        {
            return true;
        }

        var minute = (local.Hour * 60) + local.Minute;
        return schedule.Windows.Any(w => w.Day == local.DayOfWeek && w.OpenMinute <= minute && minute < w.CloseMinute);
    }

    /// <summary>
    /// Open/closed changes only where the wall clock reaches a window's edge or a local midnight (a holiday, a new
    /// weekday), or where the zone's offset changes. Those candidates are made day by day and tried in time order.
    /// </summary>
    private static DateTimeOffset? NextChange(IvrSchedule schedule, DateTimeOffset instant, bool open)
    {
        if (schedule.AlwaysOpen && schedule.Holidays.Count == 0)
        {
            return null;
        }

        var zone = schedule.Zone;
        var pending = new PriorityQueue<DateTimeOffset, DateTimeOffset>();
        var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime).AddDays(-1);
        for (var n = 0; n < HorizonDays; n++, day = day.AddDays(1))
        {
            var start = day.ToDateTime(TimeOnly.MinValue);
            foreach (var minute in Edges(schedule, day))
            {
                foreach (var candidate in Instants(zone, start.AddMinutes(minute)))
                {
                    pending.Enqueue(candidate, candidate);
                }
            }

            if (OffsetChange(zone, Naive(start) - MaxOffset, Naive(start.AddDays(1)) - MaxOffset) is { } change)
            {
                pending.Enqueue(change, change);
            }

            // Every candidate of a later day comes at or after this.
            var safe = Naive(start.AddDays(1)) - MaxOffset;
            while (pending.TryPeek(out var next, out _) && next < safe)
            {
                pending.Dequeue();
                if (next > instant && IsOpen(schedule, next) != open)
                {
                    return next;
                }
            }
        }

        return null;
    }

    private static IEnumerable<int> Edges(IvrSchedule schedule, DateOnly day) =>
        schedule.AlwaysOpen ? [0] : schedule.Windows.Where(w => w.Day == day.DayOfWeek).SelectMany(w => new[] { w.OpenMinute, w.CloseMinute }).Append(0);

    /// <summary>The instants whose wall clock shows <paramref name="local"/>: one, two in a repeated hour, or (skipped by a spring-forward) the jump itself.</summary>
    private static IEnumerable<DateTimeOffset> Instants(TimeZoneInfo zone, DateTime local)
    {
        if (zone.IsInvalidTime(local))
        {
            return OffsetChange(zone, Naive(local) - MaxOffset, Naive(local) + MaxOffset) is { } jump ? [jump] : [];
        }

        return zone.IsAmbiguousTime(local)
            ? zone.GetAmbiguousTimeOffsets(local).Select(o => new DateTimeOffset(local, o))
            : [new DateTimeOffset(local, zone.GetUtcOffset(local))];
    }

    /// <summary>The first instant in (<paramref name="from"/>, <paramref name="to"/>] with another offset than <paramref name="from"/>'s, to the second.</summary>
    private static DateTimeOffset? OffsetChange(TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to)
    {
        var before = zone.GetUtcOffset(from);
        if (zone.GetUtcOffset(to) == before)
        {
            return null;
        }

        long low = from.ToUnixTimeSeconds(), high = to.ToUnixTimeSeconds();
        while (high - low > 1)
        {
            var mid = low + ((high - low) / 2);
            if (zone.GetUtcOffset(DateTimeOffset.FromUnixTimeSeconds(mid)) == before)
            {
                low = mid;
            }
            else
            {
                high = mid;
            }
        }

        return DateTimeOffset.FromUnixTimeSeconds(high);
    }

    /// <summary>The wall-clock value read as if it were UTC: instants of it lie within ±14 h of this.</summary>
    private static DateTimeOffset Naive(DateTime local) => new(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), TimeSpan.Zero);
}
