using Omni.Tests.Infrastructure;

namespace Omni.Benchmarks;

/// <summary>
/// What one benchmark gets: a fresh Azurite of its own (started on first use) and cleanup at the end; <see cref="Quick"/>
/// (bench.sh --quick) asks for a smoke-sized run whose figures only show the benchmark works.
/// </summary>
public sealed class BenchmarkRun(string name, bool quick = false) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private AzuriteProcess? _azurite;

    public string Name { get; } = name;

    public bool Quick { get; } = quick;

    public async Task<AzuriteProcess> AzuriteAsync(CancellationToken cancellationToken = default) =>
        _azurite ??= Own(await AzuriteProcess.StartAsync(cancellationToken));

    /// <summary>Disposed, last first, when the benchmark ends.</summary>
    public T Own<T>(T resource) where T : IAsyncDisposable
    {
        _owned.Add(resource);
        return resource;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }
}
