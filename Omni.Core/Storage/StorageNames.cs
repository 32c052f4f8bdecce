namespace Omni.Storage;

/// <summary>The tables the foundation owns. Features keep their own names beside their code.</summary>
public static class StorageNames
{
    public const string CompaniesTable = "Companies";
    public const string ServicesTable = "Services";
    public const string ChannelsTable = "Channels";
    public const string ChannelDirectoryTable = "ChannelDirectory";
    public const string CredentialsTable = "Credentials";
    public const string CredentialIndexTable = "CredentialIndex";
    public const string AuditEventsTable = "AuditEvents";
}
