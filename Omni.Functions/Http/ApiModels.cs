namespace Omni.Functions.Http;

/// <summary>Every listing: the page's items and, when there is more, the token for the next page.</summary>
public sealed record ListResponse<T>(IReadOnlyList<T> Items, string? ContinuationToken = null);
