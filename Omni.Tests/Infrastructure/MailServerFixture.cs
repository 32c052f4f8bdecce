[assembly: AssemblyFixture(typeof(Omni.Tests.Infrastructure.MailServerFixture))]

namespace Omni.Tests.Infrastructure;

/// <summary>
/// One real Dovecot + Postfix for the whole run, started by the first test that asks for it (so a machine without
/// them fails only the mail tests, each with a message naming the missing package). Tests keep apart by using
/// their own addresses.
/// </summary>
public sealed class MailServerFixture : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private MailServerProcess? _servers;
    private Exception? _failure;

    public async Task<MailServerProcess> GetAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_failure is not null)
            {
                throw new InvalidOperationException("The mail servers could not start: " + _failure.Message, _failure);
            }

            try
            {
                return _servers ??= await MailServerProcess.StartAsync();
            }
            catch (Exception ex)
            {
                _failure = ex;
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_servers is not null)
        {
            await _servers.DisposeAsync();
        }

        _gate.Dispose();
    }
}
