namespace Omni.Credentials;

/// <summary>What a management key may do, as the contract lists them.</summary>
public static class Scopes
{
    public const string ChannelsRead = "channels:read";
    public const string ChannelsWrite = "channels:write";
    public const string SettingsGeneral = "settings:general";
    public const string KeysWrite = "keys:write";
    public const string ConversationsRead = "conversations:read";
    public const string ConversationsWrite = "conversations:write";
    public const string AuditRead = "audit:read";
    public const string VoiceWrite = "voice:write";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        ChannelsRead, ChannelsWrite, SettingsGeneral, KeysWrite, ConversationsRead, ConversationsWrite, AuditRead, VoiceWrite,
    };
}
