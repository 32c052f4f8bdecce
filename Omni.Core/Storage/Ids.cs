namespace Omni.Storage;

/// <summary>
/// Opaque ids with a type prefix (as Stripe does), time-ordered so rows written together sort together.
/// </summary>
public static class Ids
{
    public static string New(string prefix) => $"{prefix}_{Guid.CreateVersion7():N}";

    /// <summary>Row keys that sort newest first: Table Storage only scans ascending.</summary>
    public static string ReverseChronological(DateTimeOffset at) =>
        (DateTimeOffset.MaxValue.UtcTicks - at.UtcTicks).ToString("D19", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Ids come from URLs; anything outside this alphabet cannot be ours and must not reach a table filter.</summary>
    public static bool LooksValid(string? id) =>
        id is { Length: > 0 and <= 64 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}
