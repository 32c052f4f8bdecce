using Azure.Data.Tables;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Storage;

/// <summary>Conditional writes on real Table Storage: a lost race is a StorageConflictException or a false, never the SDK's exception.</summary>
public sealed class TableWritesTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly TableClient _table = new TableServiceClient(azurite.ConnectionString).GetTableClient("writes" + Guid.NewGuid().ToString("N")[..12]);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _table.CreateIfNotExistsAsync(Cancel);

    public async ValueTask DisposeAsync() => await _table.DeleteAsync();

    [Fact]
    public async Task ATransactionAgainstAVersionAnotherWriterReplacedIsAStorageConflict()
    {
        await _table.AddEntityAsync(new TableEntity("p", "r") { ["N"] = 1 }, Cancel);
        var read = (await _table.GetEntityAsync<TableEntity>("p", "r", cancellationToken: Cancel)).Value;
        await _table.UpdateEntityAsync(new TableEntity("p", "r") { ["N"] = 2 }, read.ETag, TableUpdateMode.Merge, Cancel);

        var error = await Assert.ThrowsAsync<StorageConflictException>(() => _table.SubmitAsync(
            [new(TableTransactionActionType.UpdateMerge, new TableEntity("p", "r") { ["N"] = 3 }, read.ETag)], Cancel));

        Assert.IsType<TableTransactionFailedException>(error.InnerException);
        Assert.Equal(2, (await _table.FindAsync("p", "r", Cancel))!.GetInt32("N"));
    }

    [Fact]
    public async Task ATransactionThatAddsARowAnotherWriterAddedIsAStorageConflict()
    {
        await _table.AddEntityAsync(new TableEntity("p", "taken"), Cancel);

        await Assert.ThrowsAsync<StorageConflictException>(() => _table.SubmitAsync(
            [new(TableTransactionActionType.Add, new TableEntity("p", "taken")), new(TableTransactionActionType.Add, new TableEntity("p", "free"))], Cancel));

        Assert.Null(await _table.FindAsync("p", "free", Cancel));
    }

    [Fact]
    public async Task AddingARowThatExistsAndReplacingAStaleVersionAreFalse()
    {
        Assert.True(await _table.TryAddAsync(new TableEntity("p", "r") { ["N"] = 1 }, Cancel));
        var read = (await _table.FindAsync("p", "r", Cancel))!;
        Assert.False(await _table.TryAddAsync(new TableEntity("p", "r") { ["N"] = 9 }, Cancel));

        Assert.True(await _table.TryReplaceAsync(new TableEntity("p", "r") { ["N"] = 2 }, read.ETag, Cancel));
        Assert.False(await _table.TryReplaceAsync(new TableEntity("p", "r") { ["N"] = 3 }, read.ETag, Cancel));
        await _table.DeleteIfExistsAsync("p", "r", Cancel);
        Assert.False(await _table.TryReplaceAsync(new TableEntity("p", "r") { ["N"] = 4 }, read.ETag, Cancel));
        Assert.Null(await _table.FindAsync("p", "r", Cancel));
    }

    [Fact]
    public async Task DeletingARowThatIsGoneIsDone()
    {
        await _table.DeleteIfExistsAsync("p", "never-there", Cancel);

        Assert.Null(await _table.FindAsync("p", "never-there", Cancel));
    }
}
