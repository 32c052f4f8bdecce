using System.Globalization;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Storage;

/// <summary>
/// The AOT-safe query helper against the SDK it replaces, on real Table Storage: the same queries through
/// <c>QueryAsync&lt;TableEntity&gt;</c> (runnable here, under the JIT) and through <see cref="TableQueries"/> give equal
/// entities (every property, its CLR type, the ETag and Timestamp), equal pages and continuation tokens, and equal errors.
/// </summary>
public sealed class TableQueriesTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly CountingPolicy _requests = new();
    private TableClient _table = null!;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var options = new TableClientOptions();
        options.AddPolicy(_requests, HttpPipelinePosition.PerRetry);
        _table = new TableServiceClient(azurite.ConnectionString, options).GetTableClient("queries" + Guid.NewGuid().ToString("N")[..12]);
        await _table.CreateIfNotExistsAsync(Cancel);
        var actions = new List<TableTransactionAction>();
        for (var i = 0; i < 7; i++)
        {
            actions.Add(new(TableTransactionActionType.Add, new TableEntity("p1", $"r{i}")
            {
                ["Text"] = $"texto {i} çã 'quoted' & more",
                ["Int"] = i,
                ["Long"] = 5_000_000_000L + i,
                ["SmallLong"] = (long)i,
                ["Double"] = i + 0.25,
                ["WholeDouble"] = (double)i,
                ["Flag"] = i % 2 == 0,
                ["Id"] = new Guid($"00000000-0000-0000-0000-00000000000{i}"),
                ["When"] = new DateTimeOffset(2026, 11, 30, 12, 0, i, 123, TimeSpan.Zero),
                ["Bytes"] = new byte[] { 0, 1, 2, (byte)i, 255 },
                ["Empty"] = "",
            }));
        }

        await _table.SubmitTransactionAsync(actions, Cancel);
        await _table.AddEntityAsync(new TableEntity("p2", "special") { ["Double"] = -1.5e300, ["Tiny"] = 5e-324, ["Max"] = long.MaxValue, ["Min"] = int.MinValue }, Cancel);
    }

    public async ValueTask DisposeAsync() => await _table.DeleteAsync();

    public static TheoryData<string?, string?> Queries => new()
    {
        { null, null },
        { "PartitionKey eq 'p1'", null },
        { "PartitionKey eq 'p1' and Int ge 3", "Text,Long,Bytes" },
        { "Text eq 'texto 2 çã ''quoted'' & more'", null },
        { "PartitionKey eq 'p2'", null },
        { "PartitionKey eq 'p1' and Flag eq true", "RowKey,When,Id" },
        { "PartitionKey eq 'nobody'", null },
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task AQueryGivesTheEntitiesTheSdkGives(string? filter, string? select)
    {
        var columns = select?.Split(',');

        var sdk = await ListAsync(_table.QueryAsync<TableEntity>(filter, select: columns, cancellationToken: Cancel));
        var ours = await ListAsync(_table.QueryEntitiesAsync(filter, select: columns, cancellationToken: Cancel));

        Assert.Equal(sdk.Select(Describe), ours.Select(Describe));
    }

    [Fact]
    public async Task PagesAndTheirContinuationTokensAreTheSdks()
    {
        var sdk = await PagesAsync(_table.QueryAsync<TableEntity>("PartitionKey eq 'p1'", maxPerPage: 3, cancellationToken: Cancel).AsPages());
        _requests.Count = 0;
        var ours = await PagesAsync(_table.QueryEntitiesAsync("PartitionKey eq 'p1'", maxPerPage: 3, cancellationToken: Cancel).AsPages());

        Assert.Equal(3, ours.Count);
        Assert.Equal(3, _requests.Count);
        Assert.Equal(sdk.Select(p => p.ContinuationToken), ours.Select(p => p.ContinuationToken));
        Assert.Equal(sdk.SelectMany(p => p.Values).Select(Describe), ours.SelectMany(p => p.Values).Select(Describe));

        // A page read from the SDK's token resumes where the SDK would.
        var token = sdk[0].ContinuationToken;
        var resumedSdk = await PagesAsync(_table.QueryAsync<TableEntity>("PartitionKey eq 'p1'", cancellationToken: Cancel).AsPages(token, 2), 1);
        var resumed = await PagesAsync(_table.QueryEntitiesAsync("PartitionKey eq 'p1'", cancellationToken: Cancel).AsPages(token, 2), 1);
        Assert.Equal(resumedSdk[0].Values.Select(Describe), resumed[0].Values.Select(Describe));
        Assert.Equal(resumedSdk[0].ContinuationToken, resumed[0].ContinuationToken);
    }

    [Fact]
    public async Task AQueryOfAMissingTableFailsAsTheSdkDoes()
    {
        var missing = new TableServiceClient(azurite.ConnectionString).GetTableClient("missing" + Guid.NewGuid().ToString("N")[..12]);

        var sdk = await Assert.ThrowsAsync<RequestFailedException>(() => ListAsync(missing.QueryAsync<TableEntity>("PartitionKey eq 'p'", cancellationToken: Cancel)));
        var ours = await Assert.ThrowsAsync<RequestFailedException>(() => ListAsync(missing.QueryEntitiesAsync("PartitionKey eq 'p'", cancellationToken: Cancel)));

        Assert.Equal(404, ours.Status);
        Assert.Equal(sdk.Status, ours.Status);
        Assert.Equal(sdk.ErrorCode, ours.ErrorCode);
    }

    [Fact]
    public void NoCodeOfTheAppQueriesTablesThroughTheSdksReflectionBinder()
    {
        // QueryAsync<T> fails in the Native AOT package (docs/operators.md); a new call site is caught here, not in production.
        var offenders = new[] { "Omni.Core", "Omni.Functions" }
            .SelectMany(project => Directory.EnumerateFiles(Path.Combine(Repository.Root, project), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains(".QueryAsync<", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Repository.Root, f));

        Assert.True(!offenders.Any(), "Use TableQueries.QueryEntitiesAsync instead of TableClient.QueryAsync<T> in: " + string.Join(", ", offenders));
    }

    private static async Task<List<TableEntity>> ListAsync(AsyncPageable<TableEntity> query)
    {
        var list = new List<TableEntity>();
        await foreach (var e in query)
        {
            list.Add(e);
        }

        return list;
    }

    private static async Task<List<Page<TableEntity>>> PagesAsync(IAsyncEnumerable<Page<TableEntity>> pages, int max = int.MaxValue)
    {
        var list = new List<Page<TableEntity>>();
        await foreach (var page in pages)
        {
            list.Add(page);
            if (list.Count == max)
            {
                break;
            }
        }

        return list;
    }

    // Every key with its CLR type and invariant value, in order: a difference names the property.
    private static string Describe(TableEntity e) =>
        string.Join("; ", e.Keys.Order(StringComparer.Ordinal).Select(k => $"{k}:{e[k]?.GetType().Name}={Format(e[k])}"))
        + $" | ETag={e.ETag} | Timestamp={e.Timestamp?.ToString("O", CultureInfo.InvariantCulture)}";

    private static string? Format(object? value) => value switch
    {
        byte[] b => Convert.ToBase64String(b),
        BinaryData b => Convert.ToBase64String(b.ToArray()),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString(),
    };

    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        public int Count;

        public override void OnSendingRequest(HttpMessage message) => Interlocked.Increment(ref Count);
    }
}
