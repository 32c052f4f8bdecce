namespace Omni.Functions.Hosting;

/// <summary>A provider's request body as the exact bytes sent (what a signature covers), read up to a limit.</summary>
internal static class RawBodies
{
    /// <summary>The bytes, or null when they are over <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]?> ReadBoundedAsync(this HttpRequest request, int maxBytes, CancellationToken cancellationToken = default)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        for (int read; (read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0;)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                return null;
            }
        }

        return buffer.ToArray();
    }
}
