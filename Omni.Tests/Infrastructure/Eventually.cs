namespace Omni.Tests.Infrastructure;

/// <summary>Waits for what the app does in the background (a listener, a timer), failing with what was awaited.</summary>
internal static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Timed out waiting until {what}.");
    }

    /// <summary>Waits until <paramref name="value"/> yields something and returns it.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T?>> value, string what)
        where T : class
    {
        T? found = null;
        await HoldsAsync(async () => (found = await value()) is not null, what);
        return found!;
    }
}
