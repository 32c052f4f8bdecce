using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Omni.Functions.Triggers;

/// <summary>
/// Keeps a received message invisible while its handler runs, as the host does: every half visibility timeout it
/// is extended by a whole one. So the timeout can be short, and a message whose worker died is free again within
/// it instead of after a long fixed lease. Each update gives a new pop receipt, which the final delete or retry needs.
/// </summary>
internal sealed partial class QueueLease(QueueClient queue, QueueMessage message, TimeSpan visibility, TimeProvider clock, ILogger logger)
{
    public string PopReceipt { get; private set; } = message.PopReceipt;

    /// <summary>Renews until <paramref name="cancellationToken"/> is cancelled (the handler finished); never throws.</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(visibility / 2, clock, cancellationToken);
                var receipt = await queue.UpdateMessageAsync(message.MessageId, PopReceipt, visibilityTimeout: visibility, cancellationToken: cancellationToken);
                PopReceipt = receipt.Value.PopReceipt;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // The lease ran out (a stall longer than the timeout) and another receiver may have the message.
                LogLost(queue.Name, message.MessageId);
                return;
            }
            catch (Exception ex)
            {
                // A storage hiccup: the next renewal may get through before the lease runs out.
                LogRenewFailed(ex, queue.Name, message.MessageId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost the lease on message {MessageId} of queue {Queue}; another receiver may run it")]
    private partial void LogLost(string queue, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not extend the lease on message {MessageId} of queue {Queue}; trying again")]
    private partial void LogRenewFailed(Exception exception, string queue, string messageId);
}
