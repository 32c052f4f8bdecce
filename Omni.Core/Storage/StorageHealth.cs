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
        catch (RequestFailedException ex)
        {
            return $"Storage answered {ex.Status}.";
        }
        catch (Exception ex) when (ex is HttpRequestException or AggregateException)
        {
            return "Storage could not be reached.";
        }
    }
}
