using System.Diagnostics;

namespace Omni.Tests.Infrastructure;

/// <summary>
/// A real Azurite (the Azure Storage emulator) in memory, on free loopback ports so parallel runs and developers'
/// own emulators never collide. Installed by <c>npm ci</c>; shared by the test fixture and the benchmarks.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    // Azurite's fixed, published development account: not a secret.
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly Process _process;

    private AzuriteProcess(Process process, int blobPort, int queuePort, int tablePort)
    {
        _process = process;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
        ConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AccountKey +
            $";BlobEndpoint=http://127.0.0.1:{BlobPort}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{QueuePort}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";
    }

    public string ConnectionString { get; }

    public int BlobPort { get; }

    public int QueuePort { get; }

    public int TablePort { get; }

    public static async Task<AzuriteProcess> StartAsync(CancellationToken cancellationToken = default)
    {
        var azurite = Path.Combine(Repository.Root, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed at {azurite}. Run 'npm ci' in the repository root (scripts/test.sh does it).");
        }

        int blobPort = Repository.FreeTcpPort(), queuePort = Repository.FreeTcpPort(), tablePort = Repository.FreeTcpPort();
        var start = new ProcessStartInfo(azurite,
            ["--inMemoryPersistence", "--skipApiVersionCheck", "--silent", "--loose",
             "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
             "--blobPort", blobPort.ToString(), "--queuePort", queuePort.ToString(), "--tablePort", tablePort.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var result = new AzuriteProcess(process, blobPort, queuePort, tablePort);
        try
        {
            await Task.WhenAll(
                Repository.WaitForPortAsync(blobPort, TimeSpan.FromSeconds(30), "Azurite (blob)"),
                Repository.WaitForPortAsync(queuePort, TimeSpan.FromSeconds(30), "Azurite (queue)"),
                Repository.WaitForPortAsync(tablePort, TimeSpan.FromSeconds(30), "Azurite (table)")).WaitAsync(cancellationToken);
        }
        catch
        {
            await result.DisposeAsync();
            throw;
        }

        return result;
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
