using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Omni.Telemetry;

/// <summary>
/// The app's own traces and metrics, in System.Diagnostics terms only: Omni.Functions hands them to OpenTelemetry
/// when telemetry is exported (<c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>). When nothing listens, starting an
/// activity returns null and recording a measurement is one <c>Enabled</c> check, so the code paths pay nothing.
/// Tags are ids, kinds and outcomes: never a secret, a message body, a phone number or an e-mail address.
/// </summary>
public static class OmniTelemetry
{
    /// <summary>The name of the <see cref="ActivitySource"/> and the <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string Name = "Omni";

    public const string ChannelKindTag = "omni.channel.kind";
    public const string OutcomeTag = "omni.outcome";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private static readonly Counter<long> MessagesIn = Meter.CreateCounter<long>(
        "omni.messages.in", "{message}", "Inbound messages by channel kind and what became of them (created, duplicate, mismatch, or why receive_hook refused one).");

    private static readonly Counter<long> MessagesOut = Meter.CreateCounter<long>(
        "omni.messages.out", "{message}", "Send attempts of agents' messages by channel kind and the transport's outcome (sent, transient, permanent, unknown).");

    private static readonly Counter<long> DeliveryAttempts = Meter.CreateCounter<long>(
        "omni.webhook.delivery.attempts", "{attempt}", "Webhook delivery attempts by outcome (succeeded, retrying, failed).");

    private static readonly Histogram<double> DeliveryDuration = Meter.CreateHistogram(
        "omni.webhook.delivery.duration", "s", "How long a webhook attempt's POST took, by outcome.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    private static readonly Histogram<double> PollDuration = Meter.CreateHistogram(
        "omni.mailbox.poll.duration", "s", "How long one mailbox poll took, by channel kind and outcome.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    private static readonly Histogram<long> PollMails = Meter.CreateHistogram(
        "omni.mailbox.poll.mails", "{mail}", "Mails one poll stored, by channel kind.", advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [0, 1, 5, 10, 25, 50, 100, 250] });

    private static readonly Counter<long> TokenRefreshFailures = Meter.CreateCounter<long>(
        "omni.token.refresh.failures", "{failure}", "Provider tokens that could not be obtained or renewed, by channel kind and reason (refused, unavailable).");

    public static void MessageReceived<T>(string channelKind, T outcome)
        where T : struct, Enum
    {
        if (MessagesIn.Enabled)
        {
            MessagesIn.Add(1, new(ChannelKindTag, channelKind), new(OutcomeTag, OutcomeName<T>.Of(outcome)));
        }
    }

    /// <summary><paramref name="count"/> messages of one outcome at once (a mailbox poll's ingested, duplicate and quarantined mails).</summary>
    public static void MessagesReceived(string channelKind, string outcome, int count)
    {
        if (MessagesIn.Enabled && count > 0)
        {
            MessagesIn.Add(count, new(ChannelKindTag, channelKind), new(OutcomeTag, outcome));
        }
    }

    public static void MessageSent<T>(string channelKind, T outcome)
        where T : struct, Enum
    {
        if (MessagesOut.Enabled)
        {
            MessagesOut.Add(1, new(ChannelKindTag, channelKind), new(OutcomeTag, OutcomeName<T>.Of(outcome)));
        }
    }

    public static void DeliveryAttempted(string outcome, string eventType, TimeSpan elapsed)
    {
        if (DeliveryAttempts.Enabled || DeliveryDuration.Enabled)
        {
            var tags = new TagList { { OutcomeTag, outcome }, { "omni.webhook.event_type", eventType } };
            DeliveryAttempts.Add(1, tags);
            DeliveryDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public static void MailboxPolled(string channelKind, string outcome, TimeSpan elapsed, int mails)
    {
        if (PollDuration.Enabled || PollMails.Enabled)
        {
            PollDuration.Record(elapsed.TotalSeconds, new(ChannelKindTag, channelKind), new(OutcomeTag, outcome));
            PollMails.Record(mails, new KeyValuePair<string, object?>(ChannelKindTag, channelKind));
        }
    }

    public static void TokenRefreshFailed(string channelKind, string reason)
    {
        if (TokenRefreshFailures.Enabled)
        {
            TokenRefreshFailures.Add(1, new(ChannelKindTag, channelKind), new("omni.reason", reason));
        }
    }
}

/// <summary>An enum's values as tag values (<c>ChannelDeleted</c> → <c>channel_deleted</c>), made once per enum.</summary>
internal static class OutcomeName<T>
    where T : struct, Enum
{
    private static readonly FrozenDictionary<T, string> Names =
        Enum.GetValues<T>().Distinct().ToDictionary(v => v, v => SnakeCase(v.ToString())).ToFrozenDictionary();

    public static string Of(T value) => Names.TryGetValue(value, out var name) ? name : "other";

    private static string SnakeCase(string name)
    {
        var text = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                text.Append('_');
            }

            text.Append(char.ToLowerInvariant(name[i]));
        }

        return text.ToString();
    }
}
