using MailKit;
using MailKit.Net.Imap;

namespace Omni.Email;

/// <summary>
/// An <see cref="ImapClient"/> whose folders write each fetched message straight into a temporary file
/// (<see cref="MailSpool.CreateFile"/>) instead of MailKit's in-memory stream: a 25 MiB literal costs 25 MiB of disk,
/// not of memory, and the ingestor parses and uploads that file without copying it.
/// </summary>
internal sealed class SpoolingImapClient(IProtocolLogger? logger) : ImapClient(logger ?? new NullProtocolLogger())
{
    protected override ImapFolder CreateImapFolder(ImapFolderConstructorArgs args) => new SpoolingFolder(args);

    private sealed class SpoolingFolder(ImapFolderConstructorArgs args) : ImapFolder(args)
    {
        protected override Stream CreateStream(UniqueId? uid, string section, int offset, int length) =>
            length > MailSpool.InMemoryBytes ? MailSpool.CreateFile() : new MemoryStream(length);
    }
}
