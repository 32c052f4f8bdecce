using Azure.Data.Tables;

namespace Omni.Storage;

/// <summary>One page of a listing and the opaque token that fetches the next (null on the last page).</summary>
public sealed record PagedResult<T>(IReadOnlyList<T> Items, string? ContinuationToken);

public static class TablePaging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Reads exactly one service page, so a listing costs one storage transaction per call.</summary>
    public static Task<PagedResult<T>> ReadPageAsync<T>(
        this TableClient table, string filter, int limit, string? continuationToken, Func<TableEntity, T> map, CancellationToken cancellationToken = default) =>
        table.ReadPageAsync(filter, null, limit, continuationToken, map, cancellationToken);

    /// <summary>As above, reading only the <paramref name="select"/> columns (large ones stay on the server).</summary>
    public static async Task<PagedResult<T>> ReadPageAsync<T>(
        this TableClient table, string filter, IEnumerable<string>? select, int limit, string? continuationToken, Func<TableEntity, T> map, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, MaxLimit);
        var serviceToken = DecodeToken(continuationToken);
        await foreach (var page in table.QueryEntitiesAsync(filter, maxPerPage: limit, select: select, cancellationToken: cancellationToken).AsPages(serviceToken, limit))
        {
            return new PagedResult<T>(page.Values.Select(map).ToList(), EncodeToken(page.ContinuationToken));
        }

        return new PagedResult<T>([], null);
    }

    // The service's token names the next partition and row key; wrapping it keeps it opaque and URL-safe.
    private static string? EncodeToken(string? serviceToken) =>
        string.IsNullOrEmpty(serviceToken) ? null : Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(serviceToken)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodeToken(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        try
        {
            var s = token.Replace('-', '+').Replace('_', '/');
            s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(s));
        }
        catch (FormatException ex)
        {
            throw new InvalidContinuationTokenException("continuationToken is not a token this API returned.", ex);
        }
    }
}
