using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MailKit;
using MimeKit;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>
/// The app as a separate OS process, SIGKILLed while it ingests a mailbox of 200 messages and started again:
/// every message ends up stored exactly once and \Seen on the server.
/// </summary>
public sealed class EmailCrashTests(MailServerFixture mail) : IAsyncLifetime
{
    private const int MessageCount = 200;
    private MailServerProcess _servers = null!;
    private AzuriteProcess _storage = null!;

    public async ValueTask InitializeAsync()
    {
        _servers = await mail.GetAsync();
        _storage = await AzuriteProcess.StartAsync();
    }

    public async ValueTask DisposeAsync() => await _storage.DisposeAsync();

    [Fact]
    public async Task KillingTheAppMidPollLosesNothingAndDuplicatesNothing()
    {
        var mailbox = _servers.NewMailbox();
        var ids = await FillMailboxAsync(mailbox, MessageCount);
        var admin = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = _storage.ConnectionString,
            ["Omni__AdminToken"] = admin,
            ["Omni__SecretsKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Omni__Triggers__FunctionsDirectory"] = EmailLiveTests.FastPollFunctions(),
            ["Omni__Triggers__VisibilityTimeout"] = "00:00:10",
            ["Omni__Email__PollTick"] = "00:00:02",
            ["Omni__Email__LeaseDuration"] = "00:00:05",
            ["Omni__Email__TrustedCertificatesFile"] = _servers.CertificateFile,
            ["Omni__Email__AllowPrivateHosts"] = "true",
            ["Logging__LogLevel__Default"] = "Warning",
        };

        var first = await OmniProcess.StartAsync(environment);
        string companyId, key, channelId;
        int stored;
        try
        {
            using var asAdmin = Client(first, admin);
            companyId = (await ReadAsync(await asAdmin.PostAsJsonAsync("/api/companies", new { name = "Crash" }), HttpStatusCode.Created))["id"]!.GetValue<string>();
            key = (await ReadAsync(await asAdmin.PostAsJsonAsync($"/api/companies/{companyId}/management-keys", new { name = "t", scopes = Arrange.AllScopes }), HttpStatusCode.Created))["key"]!.GetValue<string>();
            using var asKey = Client(first, key);
            var serviceId = (await ReadAsync(await asKey.PostAsJsonAsync($"/api/companies/{companyId}/services", new { name = "S" }), HttpStatusCode.Created))["id"]!.GetValue<string>();
            channelId = (await ReadAsync(await asKey.PostAsJsonAsync($"/api/companies/{companyId}/channels",
                new { type = "email", name = "E-mail", serviceId, settings = EmailArrange.ImapSettings(_servers, mailbox, ssl: true, pollSeconds: 10) }), HttpStatusCode.Created))["id"]!.GetValue<string>();

            // Kill it once it has stored some of the mailbox but not all of it.
            stored = (await WaitForAsync(first, key, companyId, channelId, n => n >= 20, TimeSpan.FromSeconds(60), "the first process ingests some mail")).Count;
            first.Kill();
        }
        finally
        {
            await first.DisposeAsync();
        }

        Assert.True(stored < MessageCount, $"The kill came too late to test anything: {stored} of {MessageCount} already stored.");

        await using var second = await OmniProcess.StartAsync(environment);
        var messages = await WaitForAsync(second, key, companyId, channelId, n => n >= MessageCount, TimeSpan.FromSeconds(90), "the restarted process ingests the rest");
        // Give a stray duplicate the chance to show up before counting.
        await Task.Delay(TimeSpan.FromSeconds(3));
        messages = await MessageIdsAsync(second, key, companyId, channelId);

        Assert.Equal(MessageCount, messages.Count);
        Assert.Equal(ids.Order(), messages.Order());
        var inbox = await _servers.ReadInboxAsync(mailbox);
        Assert.Equal(MessageCount, inbox.Count);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (inbox.Any(m => !m.Flags.HasFlag(MessageFlags.Seen)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
            inbox = await _servers.ReadInboxAsync(mailbox);
        }

        Assert.All(inbox, m => Assert.True(m.Flags.HasFlag(MessageFlags.Seen)));
    }

    private async Task<List<string>> FillMailboxAsync(TestMailbox mailbox, int count)
    {
        using var imap = await _servers.ImapAsync(mailbox);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var message = new MimeMessage();
            message.From.Add(new MailboxAddress("Cliente", $"cliente{i % 10}@{MailServerProcess.CustomerDomain}"));
            message.To.Add(MailboxAddress.Parse(mailbox.Address));
            message.Subject = $"Mensagem {i}";
            message.MessageId = $"crash-{i}-{Guid.NewGuid():N}@{MailServerProcess.CustomerDomain}";
            message.Body = new TextPart("plain") { Text = $"Corpo da mensagem {i}." };
            await imap.Inbox.AppendAsync(message, MessageFlags.None);
            ids.Add(message.MessageId);
        }

        await imap.DisconnectAsync(true);
        return ids;
    }

    private static HttpClient Client(OmniProcess app, string token)
    {
        var client = new HttpClient { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<JsonObject> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"Expected {(int)expected} but got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>The externalId (Message-ID) of every stored message of the channel, through the audit listing.</summary>
    private static async Task<List<string>> MessageIdsAsync(OmniProcess app, string key, string companyId, string channelId)
    {
        using var client = Client(app, key);
        var ids = new List<string>();
        string? token = null;
        do
        {
            var page = await ReadAsync(await client.GetAsync($"/api/audit/messages?channelId={channelId}&direction=inbound&limit=200" + (token is null ? "" : "&continuationToken=" + token)), HttpStatusCode.OK);
            ids.AddRange(page["items"]!.AsArray().Select(m => m!["externalId"]!.GetValue<string>()));
            token = page["continuationToken"]?.GetValue<string>();
        }
        while (token is not null);
        return ids;
    }

    private static async Task<List<string>> WaitForAsync(OmniProcess app, string key, string companyId, string channelId, Func<int, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var ids = await MessageIdsAsync(app, key, companyId, channelId);
            if (done(ids.Count))
            {
                return ids;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what}: {ids.Count} messages after {timeout.TotalSeconds:0} s.\n{app.Output[^Math.Min(app.Output.Length, 4000)..]}");
            }

            await Task.Delay(200);
        }
    }
}
