using System.Net;
using System.Text.Json.Nodes;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>E-mail channels on the test servers, made through the public API.</summary>
public static class EmailArrange
{
    /// <summary>The app settings every e-mail test app needs: trust the servers' self-signed certificate, short timeouts.</summary>
    public static Dictionary<string, string?> Settings(MailServerProcess servers, IDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Omni:Email:TrustedCertificatesFile"] = servers.CertificateFile,
            ["Omni:Email:TestTimeout"] = "00:00:06",
            ["Omni:Email:OperationTimeout"] = "00:00:10",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }

        return settings;
    }

    public static object ImapSettings(MailServerProcess servers, TestMailbox mailbox, bool ssl = true, string? signatureHtml = null, int pollSeconds = 10) => new
    {
        address = mailbox.Address,
        displayName = "Suporte Acme",
        password = mailbox.Password,
        incoming = new { protocol = "imap", host = "127.0.0.1", port = ssl ? servers.ImapsPort : servers.ImapPort, ssl },
        outgoing = new { host = "127.0.0.1", port = ssl ? servers.SmtpsPort : servers.SmtpPort, ssl },
        signatureHtml,
        pollSeconds,
    };

    public static object Pop3Settings(MailServerProcess servers, TestMailbox mailbox, bool ssl = true) => new
    {
        address = mailbox.Address,
        password = mailbox.Password,
        incoming = new { protocol = "pop3", host = "127.0.0.1", port = ssl ? servers.Pop3sPort : servers.Pop3Port, ssl },
        outgoing = new { host = "127.0.0.1", port = servers.SmtpPort, ssl = false },
        pollSeconds = 10,
    };

    public static async Task<string> EmailChannelAsync(this OmniApp app, TestTenant tenant, object settings)
    {
        var channel = await app.ChannelAsync(tenant, "email", settings, name: "E-mail");
        return channel["id"]!.GetValue<string>();
    }

    public static async Task<JsonObject> TestChannelAsync(this OmniApp app, TestTenant tenant, string channelId)
    {
        var response = await app.As(tenant.ManagementKey).PostAsync($"/api/companies/{tenant.CompanyId}/channels/{channelId}/test", null);
        return await Arrange.ReadAsync(response, HttpStatusCode.OK);
    }
}
