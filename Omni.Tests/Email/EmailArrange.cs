using System.Net;
using Microsoft.Extensions.DependencyInjection;
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
            // Dovecot and Postfix listen on loopback, which production refuses.
            ["Omni:Email:AllowPrivateHosts"] = "true",
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

/// <summary>Polls and reads back what the app stored, as the tests need it.</summary>
public static class EmailAct
{
    /// <summary>One poll of the channel's mailbox, the way the MailboxPoll function runs it.</summary>
    public static async Task<Omni.Email.PollResult> PollAsync(this OmniApp app, TestTenant tenant, string channelId)
    {
        var channels = app.Services.GetRequiredService<Omni.Channels.IChannelStore>();
        var channel = await channels.GetAsync(tenant.CompanyId, channelId) ?? throw new InvalidOperationException("No such channel.");
        var poller = app.Services.GetRequiredService<IEnumerable<Omni.Email.IMailboxPoller>>().Single(p => p.ChannelType == "email");
        return await poller.PollAsync(channel);
    }

    public static async Task<List<JsonObject>> ConversationsAsync(this OmniApp app, TestTenant tenant, string channelId, string? contact = null)
    {
        var url = $"/api/companies/{tenant.CompanyId}/conversations?channelId={channelId}" + (contact is null ? "" : "&contactExternalId=" + Uri.EscapeDataString(contact));
        var list = await Arrange.ReadAsync(await app.As(tenant.ManagementKey).GetAsync(url), HttpStatusCode.OK);
        return list["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
    }

    public static async Task<List<JsonObject>> MessagesAsync(this OmniApp app, TestTenant tenant, string conversationId)
    {
        var items = new List<JsonObject>();
        string? token = null;
        do
        {
            var url = $"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages?limit=200" + (token is null ? "" : "&continuationToken=" + token);
            var page = await Arrange.ReadAsync(await app.As(tenant.ManagementKey).GetAsync(url), HttpStatusCode.OK);
            items.AddRange(page["items"]!.AsArray().Select(i => i!.AsObject()));
            token = page["continuationToken"]?.GetValue<string>();
        }
        while (token is not null);
        return items;
    }

    /// <summary>Every message of every conversation of the channel.</summary>
    public static async Task<List<JsonObject>> AllMessagesAsync(this OmniApp app, TestTenant tenant, string channelId)
    {
        var all = new List<JsonObject>();
        foreach (var c in await app.ConversationsAsync(tenant, channelId))
        {
            all.AddRange(await app.MessagesAsync(tenant, c["id"]!.GetValue<string>()));
        }

        return all;
    }

    /// <summary>Waits (polling the API, with a deadline) until <paramref name="done"/> holds for the channel's messages.</summary>
    public static async Task<List<JsonObject>> WaitForMessagesAsync(this OmniApp app, TestTenant tenant, string channelId, Func<List<JsonObject>, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var messages = await app.AllMessagesAsync(tenant, channelId);
            if (done(messages))
            {
                return messages;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: not true within {timeout.TotalSeconds:0} s; {messages.Count} messages stored.\n" + string.Join("\n", app.Logs.Lines.Where(l => (!l.StartsWith("Debug", StringComparison.Ordinal) || l.Contains("Omni.Email", StringComparison.Ordinal)) && l.Split(' ') is [_, var category, ..] && !category.StartsWith("Azure.Core", StringComparison.Ordinal) && !category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)).TakeLast(60)));
            }

            await Task.Delay(250);
        }
    }
}
