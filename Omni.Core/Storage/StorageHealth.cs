using Azure;
using Azure.Data.Tables;

namespace Omni.Storage;

/// <summary>Whether storage answers: one cheap read that needs the account, the credential and the network to all work.</summary>
public sealed class StorageHealth(TableServiceClient tables)
{
    /// <summary>Null when storage answered; otherwise what went wrong, fit to show an operator.</summary>
    public async Task<string?> ProblemAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await foreach (var _ in tables.QueryAsync(maxPerPage: 1, cancellationToken: cancellationToken).AsPages(pageSizeHint: 1))
            {
                break;
            }

            return null;
        }
        catch (RequestFailedException ex) when (ex.Status != 0)
        {
            return $"Storage answered {ex.Status}.";
        }
        catch (Exception ex) when (IsOutage(ex))
        {
            return "Storage could not be reached.";
        }
    }

    /// <summary>
    /// Storage could not be reached or is overloaded, after the SDK's own retries: the request may be tried again
    /// as it is, and nothing of it was acknowledged. A storage answer about the request itself is no outage.
    /// </summary>
    public static bool IsOutage(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 or 408 or 500 or 502 or 503 or 504 } => true,
        HttpRequestException or TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsOutage),
        _ => false,
    };
}
