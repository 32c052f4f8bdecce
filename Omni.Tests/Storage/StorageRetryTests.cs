using Omni.Storage;

namespace Omni.Tests.Storage;

/// <summary>The stores' one retry loop: conflicts are tried again a bounded number of times, nothing else is.</summary>
public sealed class StorageRetryTests
{
    [Fact]
    public async Task AConflictIsTriedAgainAndALaterAttemptsAnswerIsReturned()
    {
        var attempts = new List<int>();

        var answer = await StorageRetry.OnConflictAsync(TimeProvider.System, "a test", n =>
        {
            attempts.Add(n);
            return n < 3 ? throw new StorageConflictException("lost the race") : Task.FromResult("stored");
        }, TestContext.Current.CancellationToken);

        Assert.Equal("stored", answer);
        Assert.Equal([1, 2, 3], attempts);
    }

    [Fact]
    public async Task ConflictsOnEveryAttemptEndInOneStorageConflictThatNamesTheOperation()
    {
        var attempts = 0;

        var error = await Assert.ThrowsAsync<StorageConflictException>(() => StorageRetry.OnConflictAsync(TimeProvider.System, "closing conversation c1", _ =>
        {
            attempts++;
            throw new StorageConflictException("lost the race");
        }, TestContext.Current.CancellationToken));

        Assert.Equal(StorageRetry.MaxAttempts, attempts);
        Assert.Contains("closing conversation c1", error.Message, StringComparison.Ordinal);
        Assert.IsType<StorageConflictException>(error.InnerException);
    }

    [Fact]
    public async Task AFailureThatIsNoConflictIsNotTriedAgain()
    {
        var attempts = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(() => StorageRetry.OnConflictAsync(TimeProvider.System, "a test", _ =>
        {
            attempts++;
            throw new InvalidOperationException("a bug");
        }, TestContext.Current.CancellationToken));

        Assert.Equal(1, attempts);
    }
}
