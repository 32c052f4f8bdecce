using System.Text.Json.Nodes;
using Omni.Channels;

namespace Omni.Email;

public enum IncomingProtocol
{
    Imap,
    Pop3,
}

/// <summary>A mail server as a channel names it. <see cref="Ssl"/> true is TLS from the first byte (993, 995, 465); false is STARTTLS when the server offers it.</summary>
public sealed record MailServer(string Host, int Port, bool Ssl);

/// <summary>An <c>email</c> channel's settings, read once from the stored (already validated) JSON; the password is revealed separately.</summary>
public sealed record EmailSettings(string Address, string? DisplayName, IncomingProtocol Protocol, MailServer Incoming, MailServer Outgoing, string? SignatureHtml, int PollSeconds)
{
    public const string PasswordField = "password";

    public const int DefaultPollSeconds = 60;

    public static EmailSettings From(Channel channel)
    {
        var s = channel.Settings;
        return new EmailSettings(
            channel.GetString("address") ?? throw new InvalidOperationException($"Channel {channel.Id} has no address."),
            channel.GetString("displayName"),
            string.Equals((s["incoming"] as JsonObject)?["protocol"]?.GetValue<string>(), "pop3", StringComparison.OrdinalIgnoreCase) ? IncomingProtocol.Pop3 : IncomingProtocol.Imap,
            Server(s["incoming"] as JsonObject, channel),
            Server(s["outgoing"] as JsonObject, channel),
            channel.GetString("signatureHtml"),
            PollSecondsOf(channel));
    }

    /// <summary>
    /// Which mailbox the incoming settings name (server, port, login, folder), hashed: a poller's cursor made for one
    /// identity means nothing for another, even when the new mailbox hands out the same UIDVALIDITY or UIDLs.
    /// </summary>
    public string IncomingIdentity() => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Protocol}\n{Incoming.Host.ToLowerInvariant()}\n{Incoming.Port}\n{Address.ToLowerInvariant()}\nINBOX"))))[..16];

    /// <summary>Any mail channel's poll interval (<c>email</c> and <c>microsoft-email</c> share the setting), never below 10 s.</summary>
    public static int PollSecondsOf(Channel channel) =>
        channel.Settings["pollSeconds"] is JsonValue v && v.TryGetValue<int>(out var seconds) ? Math.Max(seconds, 10) : DefaultPollSeconds;

    private static MailServer Server(JsonObject? o, Channel channel) => o is null
        ? throw new InvalidOperationException($"Channel {channel.Id} lacks a mail server setting.")
        : new MailServer(o["host"]!.GetValue<string>(), o["port"]!.GetValue<int>(), o["ssl"]?.GetValue<bool>() ?? true);
}
