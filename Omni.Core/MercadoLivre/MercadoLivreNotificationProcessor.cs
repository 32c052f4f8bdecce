using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Omni.Channels;

namespace Omni.MercadoLivre;

/// <summary>
/// The MercadoLivreNotification queue function: processes one stored notification on the company's channel of the
/// seller it names (<c>user_id</c>). Everything it stores is keyed by Mercado Livre's ids, and a processed row is
/// never processed again, so redelivery adds nothing twice. A 429, an outage or a token that cannot be had now sends
/// the notification back to the queue with a doubling delay (the invocation succeeds) until its attempts run out,
/// when it is marked failed and logged; a queue message that is not ours throws, so it ends in the poison queue.
/// </summary>
internal sealed partial class MercadoLivreNotificationProcessor(
    MercadoLivreNotificationStore notifications,
    IChannelStore channels,
    MercadoLivreTokens tokens,
    MercadoLivreInbound inbound,
    IOptions<MercadoLivreOptions> options,
    ILogger<MercadoLivreNotificationProcessor> logger)
{
    public async Task HandleAsync(string queueMessage, CancellationToken cancellationToken = default)
    {
        var work = MercadoLivreNotificationStore.ParseWork(queueMessage)
            ?? throw new InvalidOperationException("The Mercado Livre notifications queue holds a message that is not a notification reference.");
        if (await notifications.ReadPendingAsync(work.CompanyId, work.Id, cancellationToken) is not { } notification)
        {
            return;
        }

        var channel = (await channels.ListAsync(work.CompanyId, ChannelTypes.MercadoLivre, cancellationToken))
            .OrderBy(c => c.Id == work.ChannelId ? 0 : 1)
            .FirstOrDefault(c => c.GetString("sellerId") == notification.UserId);
        if (channel is null)
        {
            LogNoChannel(work.Id, notification.Topic);
            await notifications.FinishAsync(work.CompanyId, work.Id, "no channel of this company has the seller", cancellationToken);
            return;
        }

        TimeSpan? retry;
        string outcome;
        try
        {
            (retry, outcome) = await ProcessAsync(channel, notification, work.Attempt >= options.Value.NotificationAttempts, cancellationToken);
        }
        catch (MercadoLivreApiException e) when (e.IsTransient)
        {
            (retry, outcome) = (e.RetryAfter ?? TimeSpan.Zero, $"Mercado Livre answered {(int)e.Status}");
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            (retry, outcome) = (TimeSpan.Zero, "Mercado Livre could not be reached");
        }

        if (retry is null)
        {
            await notifications.FinishAsync(work.CompanyId, work.Id, outcome, cancellationToken);
        }
        else if (work.Attempt >= options.Value.NotificationAttempts)
        {
            LogGaveUp(work.Id, channel.Id, work.Attempt, outcome);
            await notifications.FinishAsync(work.CompanyId, work.Id, $"failed after {work.Attempt} attempts: {outcome}", cancellationToken);
        }
        else
        {
            var backoff = options.Value.RetryDelay * Math.Pow(2, Math.Min(work.Attempt - 1, 10));
            var delay = retry > backoff ? retry.Value : backoff;
            LogRetry(work.Id, channel.Id, work.Attempt + 1, delay, outcome);
            await notifications.EnqueueAsync(work with { Attempt = work.Attempt + 1 }, delay, cancellationToken);
        }
    }

    /// <summary>Null retry: done (stored, or nothing to store); otherwise try again after at least that long.</summary>
    private async Task<(TimeSpan? Retry, string Outcome)> ProcessAsync(Channel channel, MercadoLivreNotification notification, bool lastAttempt, CancellationToken cancellationToken)
    {
        if (notification.Topic is not ("questions" or "messages"))
        {
            return (null, $"topic {notification.Topic} is not taken");
        }

        var token = await tokens.GetAsync(channel, cancellationToken);
        if (token.AccessToken is not { } accessToken)
        {
            return (token.RetryAfter ?? TimeSpan.Zero, token.Problem ?? "no access token");
        }

        if (notification.Topic == "questions")
        {
            await inbound.QuestionAsync(channel, accessToken, notification.Resource, cancellationToken);
        }
        else if (!await inbound.MessagesAsync(channel, accessToken, notification.Resource, lastAttempt, cancellationToken))
        {
            return (TimeSpan.Zero, "a message's files could not be read now, or another copy is storing it");
        }

        return (null, "processed");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre notification {Id} ({Topic}) names a seller none of the company's channels has: not processed")]
    private partial void LogNoChannel(string id, string topic);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mercado Livre notification {Id} on channel {ChannelId}: attempt {Attempt} in {Delay} ({Reason})")]
    private partial void LogRetry(string id, string channelId, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Mercado Livre notification {Id} on channel {ChannelId} failed after {Attempts} attempts: {Reason}")]
    private partial void LogGaveUp(string id, string channelId, int attempts, string reason);
}
