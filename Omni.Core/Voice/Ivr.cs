namespace Omni.Voice;

/// <summary>A checked IVR (URA): the number it answers, when it is open, what it plays and the menu in dial order.</summary>
internal sealed record Ivr(
    string Id,
    string CompanyId,
    string Name,
    NumberArea Area,
    string Number,
    IvrSchedule Schedule,
    IvrMessage Welcome,
    IvrMessage Closed,
    IvrMessage Unanswered,
    IReadOnlyList<IvrMenuItem> Menu,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The uploaded audio its messages play.</summary>
    public IReadOnlySet<string> AudioIds { get; } = new[] { Welcome, Closed, Unanswered }.Select(m => m.AudioId).OfType<string>().ToHashSet(StringComparer.Ordinal);

    public IvrDraft ToDraft() => new(Name, Area.Country, Area.AreaCode, Number,
        new IvrScheduleDraft(Schedule.AlwaysOpen, Schedule.Zone.Id,
            Schedule.Windows.Select(w => new IvrDayDraft(IvrRules.DayName(w.Day), IvrRules.FormatMinute(w.OpenMinute), IvrRules.FormatMinute(w.CloseMinute))).ToList(),
            Schedule.Holidays.Order().Select(d => new IvrHolidayDraft(d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), true)).ToList()),
        Welcome.ToDraft(), Closed.ToDraft(), Unanswered.ToDraft(),
        Menu.Select(m => new IvrMenuDraft(m.Digit, m.ServiceId)).ToList());
}

/// <summary>
/// When an IVR answers as open: always, or inside a weekday's windows (minutes of the local day, close after open,
/// 1440 being midnight at the end of the day), in <see cref="Zone"/>; a holiday closes its whole local date.
/// </summary>
internal sealed record IvrSchedule(bool AlwaysOpen, TimeZoneInfo Zone, IReadOnlyList<IvrWindow> Windows, IReadOnlySet<DateOnly> Holidays);

internal sealed record IvrWindow(DayOfWeek Day, int OpenMinute, int CloseMinute);

/// <summary>Text spoken by <see cref="Voice"/>, or an uploaded audio.</summary>
internal sealed record IvrMessage(string? Text, string? Voice, string? AudioId)
{
    public IvrMessageDraft ToDraft() => new(Text, Voice, AudioId);
}

/// <summary>A menu entry: the digit (0–9) a caller presses and the service the call goes to.</summary>
internal sealed record IvrMenuItem(string Digit, string ServiceId);
