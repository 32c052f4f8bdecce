using System.Globalization;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Omni.Storage;

namespace Omni.Webhooks;

/// <summary>An attempt the index expects to have been made by <see cref="DueAt"/>, and how often the sweep queued it again already.</summary>
internal sealed record DueAttempt(DateTimeOffset DueAt, DeliveryTask Task, int Rescues);

/// <summary>
/// The due-time index of pending deliveries (a <see cref="DueIndex"/>, as the conversations' outbox has): one row for
/// the attempt a delivery waits for, due <see cref="WebhookOptions.SweepGrace"/> after the attempt itself. A row is
/// written before the delivery row names its attempt (publish, the next retry, a redeliver) and dropped after the
/// delivery moved past it, so a delivery whose queue message was lost or poisoned before its claim is found by
/// <see cref="WebhookSweep"/> with one range query, without reading any other delivery.
/// </summary>
internal sealed class WebhookDueIndex(TableServiceClient tables, IOptions<WebhookOptions> options)
{
    public const string DefaultTable = "WebhookDue";

    private readonly DueIndex _index = new(tables.GetTableClient(options.Value.DueTableName), "due");

    private TimeSpan Grace => options.Value.SweepGrace;

    /// <summary>Before the delivery row names its next attempt: the row the sweep finds if that attempt is never made.</summary>
    public Task ExpectAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default) =>
        AddAsync(new DueAttempt(Due(delivery), TaskOf(delivery), 0), cancellationToken);

    /// <summary>After the delivery row moved past the attempt it named (recorded, failed, or a new series).</summary>
    public Task DoneAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default) =>
        delivery.NextAttemptAt is null ? Task.CompletedTask : DropAsync(new DueAttempt(Due(delivery), TaskOf(delivery), 0), cancellationToken);

    /// <summary>The sweep queued the attempt again: it is looked at once more at <paramref name="dueAt"/>, one rescue further.</summary>
    public async Task RescheduleAsync(DueAttempt attempt, DateTimeOffset dueAt, CancellationToken cancellationToken = default)
    {
        await AddAsync(attempt with { DueAt = dueAt, Rescues = attempt.Rescues + 1 }, cancellationToken);
        await DropAsync(attempt, cancellationToken);
    }

    public Task DropAsync(DueAttempt attempt, CancellationToken cancellationToken = default) =>
        _index.DropAsync(attempt.DueAt, Key(attempt.Task), cancellationToken);

    public async IAsyncEnumerable<DueAttempt> DueAsync(DateTimeOffset now, int max, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var (dueAt, _, e) in _index.DueAsync(now, max, cancellationToken))
        {
            yield return new DueAttempt(dueAt,
                new DeliveryTask(e.GetString("CompanyId"), e.GetString("ChannelId"), e.GetString("DeliveryId"), e.GetInt32("Series") ?? 1, e.GetInt32("Attempt") ?? 1),
                e.GetInt32("Rescues") ?? 0);
        }
    }

    private Task AddAsync(DueAttempt attempt, CancellationToken cancellationToken) =>
        _index.AddAsync(attempt.DueAt, Key(attempt.Task), new TableEntity
        {
            ["CompanyId"] = attempt.Task.CompanyId,
            ["ChannelId"] = attempt.Task.ChannelId,
            ["DeliveryId"] = attempt.Task.DeliveryId,
            ["Series"] = attempt.Task.Series,
            ["Attempt"] = attempt.Task.Attempt,
            ["Rescues"] = attempt.Rescues,
        }, cancellationToken);

    private DateTimeOffset Due(WebhookDelivery delivery) => (delivery.NextAttemptAt ?? delivery.UpdatedAt) + Grace;

    private static DeliveryTask TaskOf(WebhookDelivery d) => new(d.CompanyId, d.ChannelId, d.Id, d.Series, d.NextAttempt);

    private static string Key(DeliveryTask t) =>
        string.Create(CultureInfo.InvariantCulture, $"{t.CompanyId}|{t.ChannelId}|{t.DeliveryId}|{t.Series}|{t.Attempt}");
}
