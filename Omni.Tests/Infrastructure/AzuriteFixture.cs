using System.Diagnostics;

[assembly: AssemblyFixture(typeof(Omni.Tests.Infrastructure.AzuriteFixture))]

namespace Omni.Tests.Infrastructure;

/// <summary>
/// One real Azurite (the Azure Storage emulator) for the whole test run, in memory, on free ports so test runs
/// and developers' own emulators never collide. Installed by <c>npm ci</c> (the test command runs it).
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    // Azurite's fixed, published development account: not a secret.
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private Process? _process;

    public string ConnectionString { get; private set; } = "";

    public int BlobPort { get; private set; }

    public int QueuePort { get; private set; }

    public int TablePort { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var azurite = Path.Combine(Repository.Root, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed at {azurite}. Run 'npm ci' in the repository root (scripts/test.sh does it).");
        }

        BlobPort = Repository.FreeTcpPort();
        QueuePort = Repository.FreeTcpPort();
        TablePort = Repository.FreeTcpPort();
        var start = new ProcessStartInfo(azurite,
            ["--inMemoryPersistence", "--skipApiVersionCheck", "--silent", "--loose",
             "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
             "--blobPort", BlobPort.ToString(), "--queuePort", QueuePort.ToString(), "--tablePort", TablePort.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Task.WhenAll(
            Repository.WaitForPortAsync(BlobPort, TimeSpan.FromSeconds(30), "Azurite (blob)"),
            Repository.WaitForPortAsync(QueuePort, TimeSpan.FromSeconds(30), "Azurite (queue)"),
            Repository.WaitForPortAsync(TablePort, TimeSpan.FromSeconds(30), "Azurite (table)"));
        ConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AccountKey +
            $";BlobEndpoint=http://127.0.0.1:{BlobPort}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process?.Dispose();
        return ValueTask.CompletedTask;
    }
}
