using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Email;
using Omni.MicrosoftEmail;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Benchmarks.MicrosoftEmail;

/// <summary>
/// What an idle poll of a Microsoft 365 mailbox costs (the common case: most polls find nothing), beside the floor
/// of one Graph round trip plus one table read made by hand; and how many token requests the per-channel
/// credential cache saves against a credential made per poll.
/// </summary>
internal static class GraphPollBenchmark
{
    private const int Polls = 200;
    private const int TokenPolls = 100;

    public static async Task<BenchmarkReport> RunAsync(BenchmarkRun run)
    {
        var azurite = await run.AzuriteAsync();
        using var authority = TestCertificateAuthority.Create();
        var cloud = run.Own(await FakeMicrosoftCloud.StartAsync(authority));
        var factory = run.Own(new WebApplicationFactory<Omni.Functions.Http.ChannelRequest>().WithWebHostBuilder(b =>
        {
            b.UseSetting("AzureWebJobsStorage", azurite.ConnectionString);
            b.UseSetting("Omni:AdminToken", "bench-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)));
            b.UseSetting("Omni:SecretsKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            b.UseSetting("Omni:Triggers:RunLocally", "false");
            b.UseSetting("Omni:Microsoft:GraphBaseUrl", cloud.GraphBaseUrl);
            b.UseSetting("Omni:Microsoft:AuthorityHost", cloud.AuthorityHost);
            b.UseSetting("Omni:Microsoft:DisableInstanceDiscovery", "true");
            b.UseSetting("Logging:LogLevel:Default", "Warning");
            b.ConfigureServices(services =>
            {
                services.AddHttpClient(GraphClientCache.GraphHttpClient).ConfigurePrimaryHttpMessageHandler(authority.CreateTrustingHandler);
                services.AddHttpClient(GraphClientCache.TokenHttpClient).ConfigurePrimaryHttpMessageHandler(authority.CreateTrustingHandler);
            });
        }));
        var services = factory.Services;

        var directory = cloud.AddTenant();
        var app = directory.AddApp();
        var mailbox = directory.AddMailbox("bench@contoso.com");
        var now = DateTimeOffset.UtcNow;
        var settings = new JsonObject { ["address"] = mailbox.Address, ["mailboxId"] = mailbox.Id, ["tenantId"] = directory.Id, ["clientId"] = app.ClientId, ["pollSeconds"] = 60 };
        var channel = await services.GetRequiredService<IChannelStore>().CreateAsync(
            new Channel("chn_bench" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant(), "cmp_bench", ChannelTypes.MicrosoftEmail, "Bench", "svc_bench", settings, new Dictionary<string, string>(), now, now),
            new Dictionary<string, string> { ["clientSecret"] = app.Secret });
        var poller = services.GetServices<IMailboxPoller>().Single(p => p.ChannelType == ChannelTypes.MicrosoftEmail);

        // The first round syncs the folder and stores the delta link; a few more warm the JIT and connections.
        var tokensBefore = cloud.TokenRequests;
        for (var i = 0; i < 5; i++)
        {
            await poller.PollAsync(channel);
        }

        var states = new TableServiceClient(azurite.ConnectionString).GetTableClient(MailboxStateStore.Table);
        var stateBefore = (await states.GetEntityAsync<TableEntity>(channel.CompanyId, channel.Id)).Value;
        var graphBefore = cloud.GraphRequests(mailbox).Count;
        var product = new List<double>(Polls);
        for (var i = 0; i < Polls; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await poller.PollAsync(channel);
            product.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        var graphPerPoll = (cloud.GraphRequests(mailbox).Count - graphBefore) / (double)Polls;
        var stateAfter = (await states.GetEntityAsync<TableEntity>(channel.CompanyId, channel.Id)).Value;
        for (var i = 0; i < TokenPolls - 5 - Polls % TokenPolls; i++)
        {
            await poller.PollAsync(channel);
        }

        var productTokens = cloud.TokenRequests - tokensBefore;

        // The floor: the same delta link fetched with a ready token and the same row read, by hand.
        using var http = new HttpClient(authority.CreateTrustingHandler());
        var credential = NewCredential(cloud, directory, app, authority);
        var token = await credential.GetTokenAsync(new TokenRequestContext([new Uri(cloud.BaseUri, "/.default").ToString()]), default);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        var link = JsonNode.Parse(stateAfter.GetString("Cursor"))!["link"]!.GetValue<string>();
        var floor = new List<double>(Polls);
        for (var i = 0; i < Polls + 5; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await states.GetEntityIfExistsAsync<TableEntity>(channel.CompanyId, channel.Id);
            using var response = await http.GetAsync(link);
            await response.Content.ReadAsByteArrayAsync();
            response.EnsureSuccessStatusCode();
            if (i >= 5)
            {
                floor.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }

        // The naive alternative: a credential made for every poll asks Entra ID every time.
        var naiveBefore = cloud.TokenRequests;
        for (var i = 0; i < TokenPolls; i++)
        {
            await NewCredential(cloud, directory, app, authority).GetTokenAsync(new TokenRequestContext([new Uri(cloud.BaseUri, "/.default").ToString()], isCaeEnabled: true), default);
        }

        var naiveTokens = cloud.TokenRequests - naiveBefore;
        return new BenchmarkReport("graph-poll",
            "Idle polls of a Microsoft 365 inbox by delta query against a local HTTPS fake of Graph and Entra ID (real Graph SDK, Azure.Identity, Azurite).",
            [
                new BenchmarkRow("idle poll, median", Median(product), "ms", Median(floor), "one delta GET + one table read by hand"),
                new BenchmarkRow("idle poll, p95", Percentile(product, 0.95), "ms", Percentile(floor, 0.95), "one delta GET + one table read by hand"),
                new BenchmarkRow("Graph requests per idle poll", graphPerPoll, "requests"),
                new BenchmarkRow("state row writes over the idle polls", stateBefore.ETag == stateAfter.ETag ? 0 : 1, "writes (0 = row unchanged)"),
                new BenchmarkRow($"token requests over {TokenPolls} polls", productTokens, "requests", naiveTokens, "a new credential per poll"),
            ],
            new Dictionary<string, string>
            {
                ["polls measured"] = Polls.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
            });
    }

    private static ClientSecretCredential NewCredential(FakeMicrosoftCloud cloud, FakeTenant directory, FakeApp app, TestCertificateAuthority authority) =>
        new(directory.Id, app.ClientId, app.Secret, new ClientSecretCredentialOptions
        {
            AuthorityHost = new Uri(cloud.AuthorityHost),
            DisableInstanceDiscovery = true,
            Transport = new HttpClientTransport(new HttpClient(authority.CreateTrustingHandler())),
        });

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(p * (sorted.Count - 1)))];
    }
}
