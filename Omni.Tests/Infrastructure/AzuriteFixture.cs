[assembly: AssemblyFixture(typeof(Omni.Tests.Infrastructure.AzuriteFixture))]

namespace Omni.Tests.Infrastructure;

/// <summary>One real Azurite for the whole test run; tests keep apart by making their own companies, queues and tables.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? _azurite;

    public string ConnectionString => Azurite.ConnectionString;

    public int BlobPort => Azurite.BlobPort;

    public int QueuePort => Azurite.QueuePort;

    public int TablePort => Azurite.TablePort;

    private AzuriteProcess Azurite => _azurite ?? throw new InvalidOperationException("Azurite has not started.");

    public async ValueTask InitializeAsync() => _azurite = await AzuriteProcess.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }
}
