using System.Text.Json;
using System.Text.Json.Serialization;

namespace Omni.Voice;

/// <summary>
/// An IVR as the API sends and shows it (contract §8); every field nullable, since <see cref="IvrRules"/> names
/// what is missing. Stored in this shape too, as JSON, after the rules have checked and normalised it.
/// </summary>
public sealed record IvrDraft(
    string? Name,
    string? Country,
    string? AreaCode,
    string? Number,
    IvrScheduleDraft? Schedule,
    IvrMessageDraft? Welcome,
    IvrMessageDraft? Closed,
    IvrMessageDraft? Unanswered,
    IReadOnlyList<IvrMenuDraft?>? Menu);

public sealed record IvrScheduleDraft(bool? AlwaysOpen, string? TimeZone, IReadOnlyList<IvrDayDraft?>? Days, IReadOnlyList<IvrHolidayDraft?>? Holidays);

/// <summary>A window of one weekday: <c>open</c> and <c>close</c> are <c>HH:mm</c> local times, close after open (<c>24:00</c> is the end of the day).</summary>
public sealed record IvrDayDraft(string? Day, string? Open, string? Close);

public sealed record IvrHolidayDraft(string? Date, bool? Closed);

/// <summary><c>{text, voice}</c> spoken by text-to-speech, or <c>{audioId}</c> of an uploaded audio.</summary>
public sealed record IvrMessageDraft(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Voice,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? AudioId);

public sealed record IvrMenuDraft(string? Digit, string? ServiceId);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IvrDraft))]
internal sealed partial class VoiceJsonContext : JsonSerializerContext;
