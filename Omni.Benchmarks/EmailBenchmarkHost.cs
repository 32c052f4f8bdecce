using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Omni.Audit;
using Omni.Channels;
using Omni.Conversations;
using Omni.Email;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Benchmarks;

/// <summary>The e-mail benchmarks' app: Core's e-mail feature on Azurite and one IMAP channel on the benchmark's Dovecot.</summary>
internal static class EmailBenchmarkHost
{
    /// <param name="services">Runs after storage is added and before the features are: a storage pipeline policy goes here.</param>
    public static async Task<(IHost Host, Channel Channel)> StartAsync(AzuriteProcess azurite, MailServerProcess servers, string mailbox, string password,
        IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString,
            ["Omni:SecretsKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Omni:Email:TrustedCertificatesFile"] = servers.CertificateFile,
            ["Omni:Email:AllowPrivateHosts"] = "true",
        });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Logging.ClearProviders();
        builder.AddOmniStorage();
        services?.Invoke(builder.Services);
        builder.Services.AddOmniChannels().AddOmniAudit().AddOmniConversations().AddOmniEmail();
        var host = builder.Build();
        await host.StartAsync();

        return (host, await AddChannelAsync(host, servers, mailbox, password));
    }

    /// <summary>One more IMAP channel of its own company on <paramref name="mailbox"/>.</summary>
    public static async Task<Channel> AddChannelAsync(IHost host, MailServerProcess servers, string mailbox, string password)
    {
        var now = DateTimeOffset.UtcNow;
        var channelSettings = new JsonObject
        {
            ["address"] = mailbox,
            ["incoming"] = new JsonObject { ["protocol"] = "imap", ["host"] = "127.0.0.1", ["port"] = servers.ImapsPort, ["ssl"] = true },
            ["outgoing"] = new JsonObject { ["host"] = "127.0.0.1", ["port"] = servers.SmtpsPort, ["ssl"] = true },
            ["pollSeconds"] = 60,
        };
        return await host.Services.GetRequiredService<IChannelStore>().CreateAsync(
            new Channel(Ids.New("chn"), Ids.New("cmp"), ChannelTypes.Email, "bench", "svc", channelSettings, new Dictionary<string, string>(), now, now),
            new Dictionary<string, string> { [EmailSettings.PasswordField] = password });
    }
}
