namespace Omni.Functions.Hosting;

internal static class OmniClaims
{
    public const string Kind = "omni:kind";
    public const string Company = "omni:company";
    public const string Channel = "omni:channel";
    public const string Bot = "omni:bot";
    public const string KeyId = "omni:key";
    public const string KeyName = "omni:key-name";
    public const string Scope = "scope";

    public const string AdminKind = "admin";
    public const string ManagementKind = "management";
    public const string ChannelKind = "channel";
    public const string BotKind = "bot";
}
