namespace Omni.Storage;

/// <summary>
/// The one retry loop of the stores, for optimistic writes that lost a race: a <see cref="StorageConflictException"/>
/// means another writer got there first, so the attempt re-reads and tries again after a short random pause (racing
/// writers spread out instead of colliding again), a bounded number of times.
/// </summary>
internal static class StorageRetry
{
    public const int MaxAttempts = 8;

    /// <param name="operation">What is attempted, for the exception when every attempt lost ("storing a message").</param>
    /// <param name="attempt">One read-and-write, given its number (1 first); throws <see cref="StorageConflictException"/> to be retried.</param>
    public static async Task<T> OnConflictAsync<T>(TimeProvider clock, string operation, Func<int, Task<T>> attempt, CancellationToken cancellationToken = default)
    {
        for (var n = 1; ; n++)
        {
            try
            {
                return await attempt(n);
            }
            catch (StorageConflictException ex) when (n >= MaxAttempts)
            {
                throw new StorageConflictException($"Another writer changed the rows first on each of {MaxAttempts} attempts at {operation}.", ex);
            }
            catch (StorageConflictException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * n)), clock, cancellationToken);
            }
        }
    }

    /// <inheritdoc cref="OnConflictAsync{T}"/>
    public static Task OnConflictAsync(TimeProvider clock, string operation, Func<int, Task> attempt, CancellationToken cancellationToken = default) =>
        OnConflictAsync(clock, operation, async n =>
        {
            await attempt(n);
            return true;
        }, cancellationToken);
}
