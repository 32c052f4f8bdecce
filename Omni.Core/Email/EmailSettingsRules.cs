using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Omni.Channels;
using Omni.Security;

namespace Omni.Email;

/// <summary>An <c>email</c> channel's settings: the mailbox address, its IMAP/POP3 and SMTP servers, and the password they share.</summary>
internal sealed class EmailSettingsRules(IOptions<EmailOptions> options) : IChannelSettingsRules
{
    public const int MaxSignatureLength = 32_000;

    // The password goes to whatever these name, so it is kept only while none of them changes.
    private static readonly SecretBinding PasswordBinding = new(EmailSettings.PasswordField,
        ["address", "incoming.host", "incoming.port", "incoming.protocol", "outgoing.host", "outgoing.port"],
        "the mail server or account changed");

    public void Check(ChannelSettingsInput input)
    {
        var reader = input.Settings;
        reader.EmailAddress("address", required: true);
        reader.String("displayName", required: false);
        input.Secret(EmailSettings.PasswordField);
        if (reader.Object("incoming", required: true) is { } incoming)
        {
            if (incoming.String("protocol", required: true) is { } protocol && protocol is not ("imap" or "pop3"))
            {
                incoming.Error("protocol", "Must be \"imap\" or \"pop3\".");
            }

            Server(incoming);
        }

        if (reader.Object("outgoing", required: true) is { } outgoing)
        {
            Server(outgoing);
        }

        SignatureAndPolling(reader);
    }

    public IReadOnlyList<string> SecretFields(JsonObject settings) => [EmailSettings.PasswordField];

    public IReadOnlyList<SecretBinding> Bindings(JsonObject settings) => [PasswordBinding];

    /// <summary>What every mail channel kind shares: the signature, stored sanitized, and the poll interval.</summary>
    internal static void SignatureAndPolling(SettingsReader reader)
    {
        if (reader.String("signatureHtml", required: false, maxLength: MaxSignatureLength) is { } signature)
        {
            reader.Set("signatureHtml", SignatureSanitizer.Sanitize(signature));
        }

        reader.Int("pollSeconds", required: false, min: 10, max: 86_400, defaultValue: EmailSettings.DefaultPollSeconds);
    }

    private void Server(SettingsReader server)
    {
        var host = server.String("host", required: true, maxLength: 253);
        if (host is not null && Uri.CheckHostName(host) is UriHostNameType.Unknown or UriHostNameType.Basic)
        {
            server.Error("host", "Must be a host name or IP address.");
        }
        else if (host is not null && !options.Value.AllowPrivateHosts && IPAddress.TryParse(host.Trim('[', ']'), out var ip) && !TargetAddressPolicy.IsPublic(ip))
        {
            // Names are checked again on the address connected to (MailConnector); a literal can be refused now.
            server.Error("host", "Must not be a private, loopback, link-local or cloud metadata address.");
        }

        server.Int("port", required: true, min: 1, max: 65_535);
        server.Bool("ssl", required: true);
    }
}
