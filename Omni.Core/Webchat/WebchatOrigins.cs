using Omni.Channels;

namespace Omni.Webchat;

/// <summary>Which page origins a webchat channel serves: exactly its <c>allowedOrigins</c>, compared as browsers send <c>Origin</c>.</summary>
public static class WebchatOrigins
{
    /// <summary>The origin as a browser's <c>Origin</c> header spells it (lower-case scheme and host, default port dropped), or null when it is not one.</summary>
    public static string? Normalize(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var origin) || origin.Scheme is not ("https" or "http")
            || origin.AbsolutePath != "/" || origin.Query.Length > 0 || origin.Fragment.Length > 0 || origin.UserInfo.Length > 0
            || value.TrimEnd('/').Length != origin.GetLeftPart(UriPartial.Authority).Length)
        {
            return null;
        }

        return origin.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
    }

    /// <summary>Whether a page of <paramref name="origin"/> may talk to the channel's visitor API.</summary>
    public static bool Allows(Channel channel, string origin) =>
        Normalize(origin) is { } normalized
        && channel.Settings["allowedOrigins"] is System.Text.Json.Nodes.JsonArray allowed
        && allowed.Any(a => a?.GetValue<string>() is { } s && Normalize(s) == normalized);
}

/// <summary>
/// The public token a site's snippet names. It is the channel's id under another prefix: public by design (it is in
/// every page's source), and it lets the visitor API find the channel through the channel directory in one read.
/// </summary>
public static class WebsiteToken
{
    private const string Prefix = "wct_";
    private const string ChannelPrefix = "chn_";

    public static string For(string channelId) =>
        channelId.StartsWith(ChannelPrefix, StringComparison.Ordinal) ? Prefix + channelId[ChannelPrefix.Length..] : Prefix + channelId;

    /// <summary>The channel id a token names, or null when it cannot be one.</summary>
    public static string? ChannelIdOf(string? token) =>
        token is { Length: > 4 } && token.StartsWith(Prefix, StringComparison.Ordinal) && Storage.Ids.LooksValid(token)
            ? ChannelPrefix + token[Prefix.Length..]
            : null;
}
