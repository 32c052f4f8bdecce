using System.Buffers;
using System.Security.Cryptography;

namespace Omni.Email;

/// <summary>
/// The raw bytes of one mail, read once from its server and held where they cost no memory: small mail in memory,
/// anything larger in a temporary file deleted when the spool is disposed. MimeKit parses it in place
/// (<c>persistent: true</c>: parts point into the file instead of being copied), the archive uploads it as it is, and
/// its SHA-256 is taken on the way in, so no step holds the whole mail as a byte array.
/// </summary>
internal sealed class MailSpool : IAsyncDisposable
{
    /// <summary>Mail up to this size stays in memory; a file for it would cost more than it saves.</summary>
    public const int InMemoryBytes = 256 * 1024;

    private MailSpool(Stream content, string sha256)
    {
        Content = content;
        Sha256 = sha256;
    }

    /// <summary>Seekable, at position 0; whoever reads it seeks it back.</summary>
    public Stream Content { get; }

    public long Length => Content.Length;

    /// <summary>SHA-256 of the bytes read, lowercase hex.</summary>
    public string Sha256 { get; }

    /// <summary>A temporary file, deleted when it is closed (IMAP literals are written straight into one).</summary>
    public static Stream CreateFile() => new SpoolFile();

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes of <paramref name="source"/>; what is left stays in the source. A
    /// temporary file the source already is (an IMAP literal spooled by <see cref="SpoolingImapClient"/>) is taken over
    /// whole instead of copied: the spool then owns it, and its length may be above the limit.
    /// </summary>
    public static Task<MailSpool> ReadAsync(Stream source, long limit, CancellationToken cancellationToken = default) =>
        ReadAsync(source, limit, adopt: true, cancellationToken);

    /// <summary>A copy of <paramref name="source"/> (memory when small, else a temporary file), at position 0, for a source its owner disposes.</summary>
    public static async Task<Stream> CopyAsync(Stream source, CancellationToken cancellationToken = default) =>
        (await ReadAsync(source, long.MaxValue, adopt: false, cancellationToken)).Content;

    private static async Task<MailSpool> ReadAsync(Stream source, long limit, bool adopt, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var adopted = adopt && source is SpoolFile;
        var target = adopted ? source : new MemoryStream();
        try
        {
            long total = 0;
            int read;
            while (total < limit && (read = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, limit - total)), cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                total += read;
                if (adopted)
                {
                    continue;
                }

                if (target is MemoryStream memory && memory.Length + read > InMemoryBytes)
                {
                    target = CreateFile();
                    memory.Position = 0;
                    await memory.CopyToAsync(target, cancellationToken);
                }

                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            target.Position = 0;
            return new MailSpool(target, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        catch
        {
            if (!adopted)
            {
                await target.DisposeAsync();
            }

            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public ValueTask DisposeAsync() => Content.DisposeAsync();

    private sealed class SpoolFile() : FileStream(
        Path.Combine(Path.GetTempPath(), "omni-mail-" + Guid.NewGuid().ToString("N") + ".eml"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose);
}
