using System.Globalization;
using Omni.Validation;

namespace Omni.Voice;

/// <summary>
/// The rules of §8 that need no storage: names, the IANA zone, <c>HH:mm</c> windows (a window crossing midnight is
/// refused: split it at 24:00/00:00), overlaps within a day, holidays, messages, menu digits 0–9 used once. Each
/// problem is named by the JSON path the caller sent. What needs storage (the company's number, services and audio)
/// is checked by <see cref="Ivrs"/>.
/// </summary>
internal static class IvrRules
{
    public const string DefaultVoice = "pt-BR-FranciscaNeural";
    public const int MaxWindows = 28;
    public const int MaxHolidays = 366;
    public const int MaxTextLength = 1000;
    private const int EndOfDay = 24 * 60;

    private static readonly string[] DayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

    public static string DayName(DayOfWeek day) => DayNames[(int)day];

    public static string FormatMinute(int minute) => $"{minute / 60:00}:{minute % 60:00}";

    /// <summary>The IVR the draft describes (ids and times left to the caller), or null with <paramref name="errors"/> filled.</summary>
    public static Ivr? Parse(IvrDraft draft, ValidationErrors errors)
    {
        var name = errors.Required("name", draft.Name);
        var country = NumberPlan.CheckCountry(errors, draft.Country);
        var areaCode = NumberPlan.CheckAreaCode(errors, draft.AreaCode);

        string? number = null;
        if (NumberPlan.Parse(draft.Number?.Trim(), out var numberError) is { } parsed)
        {
            number = parsed.Number;
            if (country is not null && areaCode is not null && parsed.Area != new NumberArea(country, areaCode))
            {
                errors.Add("number", $"Belongs to {parsed.Area.Country} area code {parsed.Area.AreaCode}, not to the country and area code given.");
            }
        }
        else
        {
            errors.Add("number", numberError);
        }

        var schedule = ParseSchedule(draft.Schedule, errors);
        var welcome = ParseMessage("welcome", draft.Welcome, errors);
        var closed = ParseMessage("closed", draft.Closed, errors);
        var unanswered = ParseMessage("unanswered", draft.Unanswered, errors);
        var menu = ParseMenu(draft.Menu, errors);
        return errors.IsValid
            ? new Ivr("", "", name!, new NumberArea(country!, areaCode!), number!, schedule!, welcome!, closed!, unanswered!, menu, default, default)
            : null;
    }

    private static IvrSchedule? ParseSchedule(IvrScheduleDraft? draft, ValidationErrors errors)
    {
        if (draft is null)
        {
            errors.Add("schedule", "Required: {alwaysOpen, timeZone, days}.");
            return null;
        }

        TimeZoneInfo? zone = null;
        if (draft.TimeZone?.Trim() is not { Length: > 0 } id || !TimeZoneInfo.TryFindSystemTimeZoneById(id, out zone) || !zone.HasIanaId)
        {
            errors.Add("schedule.timeZone", "Must be an IANA time zone such as America/Sao_Paulo.");
        }

        var alwaysOpen = draft.AlwaysOpen ?? false;
        var days = draft.Days ?? [];
        if (alwaysOpen && days.Count > 0)
        {
            errors.Add("schedule.days", "Must be empty when alwaysOpen is true.");
        }
        else if (!alwaysOpen && days.Count == 0)
        {
            errors.Add("schedule.days", "At least one window is required unless alwaysOpen is true.");
        }
        else if (days.Count > MaxWindows)
        {
            errors.Add("schedule.days", $"At most {MaxWindows} windows.");
        }

        var windows = new List<(IvrWindow Window, int Index)>();
        for (var i = 0; i < days.Count && days.Count <= MaxWindows; i++)
        {
            if (ParseWindow($"schedule.days[{i}]", days[i], errors) is { } window)
            {
                windows.Add((window, i));
            }
        }

        foreach (var day in windows.GroupBy(w => w.Window.Day))
        {
            var ordered = day.OrderBy(w => w.Window.OpenMinute).ToList();
            for (var k = 1; k < ordered.Count; k++)
            {
                if (ordered[k].Window.OpenMinute < ordered[k - 1].Window.CloseMinute)
                {
                    var other = ordered[k - 1];
                    errors.Add($"schedule.days[{Math.Max(ordered[k].Index, other.Index)}]",
                        $"Overlaps schedule.days[{Math.Min(ordered[k].Index, other.Index)}] on {DayName(day.Key)}.");
                }
            }
        }

        var holidays = ParseHolidays(draft.Holidays ?? [], errors);
        return zone is null || holidays is null
            ? null
            : new IvrSchedule(alwaysOpen, zone, windows.Select(w => w.Window).OrderBy(w => w.Day).ThenBy(w => w.OpenMinute).ToList(), holidays);
    }

    private static IvrWindow? ParseWindow(string path, IvrDayDraft? draft, ValidationErrors errors)
    {
        if (draft is null)
        {
            errors.Add(path, "Required: {day, open, close}.");
            return null;
        }

        var day = Array.IndexOf(DayNames, draft.Day?.Trim().ToLowerInvariant());
        if (day < 0)
        {
            errors.Add($"{path}.day", "Must be monday, tuesday, wednesday, thursday, friday, saturday or sunday.");
        }

        var open = ParseMinute(draft.Open, allowEndOfDay: false);
        if (open is null)
        {
            errors.Add($"{path}.open", "Must be a local time HH:mm, 00:00 to 23:59.");
        }

        var close = ParseMinute(draft.Close, allowEndOfDay: true);
        if (close is null)
        {
            errors.Add($"{path}.close", "Must be a local time HH:mm, 00:01 to 24:00 (24:00 is the end of the day).");
        }
        else if (open is not null && close <= open)
        {
            errors.Add($"{path}.close", "Must be after open: a window that crosses midnight is not taken; split it into one that closes at 24:00 and one of the next day that opens at 00:00.");
            return null;
        }

        return day >= 0 && open is not null && close is not null ? new IvrWindow((DayOfWeek)day, open.Value, close.Value) : null;
    }

    private static int? ParseMinute(string? text, bool allowEndOfDay)
    {
        if (text is not { Length: 5 } || text[2] != ':' || text.AsSpan(0, 2).ContainsAnyExceptInRange('0', '9') || text.AsSpan(3, 2).ContainsAnyExceptInRange('0', '9'))
        {
            return null;
        }

        var hours = int.Parse(text.AsSpan(0, 2), CultureInfo.InvariantCulture);
        var minutes = int.Parse(text.AsSpan(3, 2), CultureInfo.InvariantCulture);
        var total = (hours * 60) + minutes;
        return minutes < 60 && (hours < 24 || (allowEndOfDay && total == EndOfDay)) ? total : null;
    }

    private static HashSet<DateOnly>? ParseHolidays(IReadOnlyList<IvrHolidayDraft?> holidays, ValidationErrors errors)
    {
        if (holidays.Count > MaxHolidays)
        {
            errors.Add("schedule.holidays", $"At most {MaxHolidays} holidays.");
            return null;
        }

        var dates = new HashSet<DateOnly>();
        var valid = true;
        for (var i = 0; i < holidays.Count; i++)
        {
            var path = $"schedule.holidays[{i}]";
            if (holidays[i] is not { } holiday || !DateOnly.TryParseExact(holiday.Date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            {
                errors.Add($"{path}.date", "Must be a local date yyyy-MM-dd.");
                valid = false;
                continue;
            }

            if (holiday.Closed is false)
            {
                errors.Add($"{path}.closed", "A holiday closes its day: closed must be true (or left out).");
                valid = false;
            }

            if (!dates.Add(date))
            {
                errors.Add($"{path}.date", "Listed twice.");
                valid = false;
            }
        }

        return valid ? dates : null;
    }

    private static IvrMessage? ParseMessage(string path, IvrMessageDraft? draft, ValidationErrors errors)
    {
        if (draft is null)
        {
            errors.Add(path, "Required: {text, voice} for text-to-speech, or {audioId} of an uploaded audio.");
            return null;
        }

        var text = draft.Text?.Trim();
        var audioId = draft.AudioId?.Trim();
        if (string.IsNullOrEmpty(text) == string.IsNullOrEmpty(audioId))
        {
            errors.Add(path, "Give either text (with an optional voice) or audioId, not both and not neither.");
            return null;
        }

        if (!string.IsNullOrEmpty(audioId))
        {
            return draft.Voice is null ? new IvrMessage(null, null, audioId) : Fail($"{path}.voice", "A voice speaks text: leave it out with audioId.");
        }

        if (text!.Length > MaxTextLength)
        {
            return Fail($"{path}.text", $"At most {MaxTextLength} characters.");
        }

        var voice = draft.Voice?.Trim() is { Length: > 0 } v ? v : DefaultVoice;
        return IsVoiceName(voice) ? new IvrMessage(text, voice, null) : Fail($"{path}.voice", "Must be a neural voice name such as pt-BR-FranciscaNeural.");

        IvrMessage? Fail(string field, string message)
        {
            errors.Add(field, message);
            return null;
        }
    }

    /// <summary>A locale then a name, as Azure AI Speech names its voices (pt-BR-FranciscaNeural, en-US-AvaMultilingualNeural).</summary>
    private static bool IsVoiceName(string voice) =>
        voice.Length <= 100 && voice.Split('-') is { Length: >= 3 } parts
        && parts[0].Length is 2 or 3 && parts[0].All(char.IsAsciiLetterLower)
        && parts[1].Length is 2 && parts[1].All(char.IsAsciiLetterUpper)
        && parts.Skip(2).All(p => p.Length > 0 && p.All(c => char.IsAsciiLetterOrDigit(c) || c == ':'));

    private static List<IvrMenuItem> ParseMenu(IReadOnlyList<IvrMenuDraft?>? menu, ValidationErrors errors)
    {
        var items = new List<IvrMenuItem>();
        if (menu is not { Count: > 0 })
        {
            errors.Add("menu", "At least one entry {digit, serviceId} is required.");
            return items;
        }

        if (menu.Count > 10)
        {
            errors.Add("menu", "At most 10 entries, one per digit 0–9.");
            return items;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < menu.Count; i++)
        {
            var digit = menu[i]?.Digit?.Trim();
            if (digit is not { Length: 1 } || !char.IsAsciiDigit(digit[0]))
            {
                errors.Add($"menu[{i}].digit", "Must be one digit, 0 to 9.");
            }
            else if (!seen.Add(digit))
            {
                errors.Add($"menu[{i}].digit", $"Digit {digit} is already used by an earlier entry.");
            }

            var serviceId = menu[i]?.ServiceId?.Trim();
            if (string.IsNullOrEmpty(serviceId))
            {
                errors.Add($"menu[{i}].serviceId", "Required: the id of one of the company's services.");
            }
            else if (digit is { Length: 1 })
            {
                items.Add(new IvrMenuItem(digit, serviceId));
            }
        }

        return items;
    }
}
