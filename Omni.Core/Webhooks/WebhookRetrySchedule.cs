using System.Globalization;
using Microsoft.Extensions.Options;

namespace Omni.Webhooks;

/// <summary>
/// When attempts happen: <see cref="Steps"/>[n] is the wait before attempt n+1 (the first is normally 0), with
/// ±20 % jitter so a recovering endpoint is not hit by every queued delivery at once. A <c>Retry-After</c> is
/// honoured but kept within [step, 2 × step], so an endpoint can slow retries down but neither stop nor speed them.
/// </summary>
internal sealed class WebhookRetrySchedule
{
    public const double Jitter = 0.2;
    public const int MaxSteps = 50;
    public static readonly TimeSpan MaxStep = TimeSpan.FromDays(7);

    public static readonly IReadOnlyList<TimeSpan> Default =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
        TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(14), TimeSpan.FromHours(20), TimeSpan.FromHours(24),
    ];

    public WebhookRetrySchedule(IOptions<WebhookOptions> options)
        : this(TryParse(options.Value.RetrySchedule, out var steps) ? steps : throw new InvalidOperationException(ValidationMessage))
    {
    }

    public WebhookRetrySchedule(IReadOnlyList<TimeSpan> steps) => Steps = steps;

    public const string ValidationMessage =
        "Omni__Webhooks__RetrySchedule must be a comma-separated list of 1 to 50 TimeSpans (for example 00:00:00,00:00:05,00:05:00), each between 0 and 7 days.";

    public IReadOnlyList<TimeSpan> Steps { get; }

    public int Attempts => Steps.Count;

    public static bool TryParse(string? value, out IReadOnlyList<TimeSpan> steps)
    {
        steps = Default;
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        var parsed = new List<TimeSpan>();
        foreach (var part in value.Split(','))
        {
            if (!TimeSpan.TryParse(part.Trim(), CultureInfo.InvariantCulture, out var step) || step < TimeSpan.Zero || step > MaxStep)
            {
                return false;
            }

            parsed.Add(step);
        }

        if (parsed.Count is 0 or > MaxSteps)
        {
            return false;
        }

        steps = parsed;
        return true;
    }

    /// <summary>The wait before attempt <paramref name="attempt"/> (1-based), jittered; <paramref name="jitterUnit"/> is in [-1, 1].</summary>
    public TimeSpan DelayBefore(int attempt, TimeSpan? retryAfter, double jitterUnit)
    {
        var step = Steps[attempt - 1];
        if (retryAfter is { } asked)
        {
            return asked < step ? step : asked > 2 * step ? 2 * step : asked;
        }

        return step * (1 + (Jitter * Math.Clamp(jitterUnit, -1, 1)));
    }
}
