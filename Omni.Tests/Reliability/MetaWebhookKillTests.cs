using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Omni.Tests.Infrastructure;
using Omni.Tests.Meta;

namespace Omni.Tests.Reliability;

/// <summary>
/// The app SIGKILLed in the middle of a burst of Meta's webhook events and started again: every event it answered 200
/// is processed after the restart (it was stored and queued before the 200, whether or not processing had begun),
/// and Meta's retries of the unanswered ones (the same bytes) store no message twice.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class MetaWebhookKillTests : IAsyncLifetime
{
    private AzuriteProcess _storage = null!;

    public async ValueTask InitializeAsync() => _storage = await AzuriteProcess.StartAsync();

    public async ValueTask DisposeAsync() => await _storage.DisposeAsync();

    [Fact]
    public async Task KillingTheAppBetweenAcknowledgingAndProcessingLosesNoEventAndStoresNoMessageTwice()
    {
        var calls = ReliabilityRun.Size(150);
        var killAfter = calls * 2 / 5;
        await using var app = await FaultApp.StartAsync(_storage.ConnectionString);
        var tenant = await app.TenantAsync();
        var number = new FakePhoneNumber("109876543210", "209876543210", "EAAG-unused", "+55 11 98765-4321");
        var appSecret = "kill-app-secret";
        var channelId = await app.ChannelAsync(tenant, "whatsapp", new
        {
            provider = "meta", number = "5511987654321", phoneNumberId = number.Id, accessToken = number.AccessToken, appSecret,
            verifyToken = "kill-verify", expirationMinutes = 60, returnToBot = false, hsm = false, hsmOpensConversation = false,
        });
        var channel = new TestMetaChannel(tenant, channelId, appSecret, "kill-verify", Number: number);
        // One event per call, each from its own contact (so conversations are opened concurrently, too).
        var bodies = Enumerable.Range(0, calls).Select(i => Encoding.UTF8.GetBytes(MetaEvents.WhatsApp(channel,
            MetaEvents.Text($"wamid.kill-{i}", MetaEvents.Escape($"mensagem nº {i} ✅"), from: $"55119{i:D8}"), waId: $"55119{i:D8}"))).ToArray();

        var killed = new TaskCompletionSource();
        List<Answer> answers;
        using (var client = app.As("unused", TimeSpan.FromSeconds(20)))
        {
            answers = await Burst.RunAsync(calls, 16, i => Signed(channel, bodies[i]), client, n =>
            {
                if (n == killAfter)
                {
                    app.Process.Kill();
                    killed.SetResult();
                }
            });
        }

        var restart = await app.KillAndRestartAsync();
        // Meta retries what it did not see acknowledged, with the same bytes, until it is.
        var retries = new List<Answer>();
        var clock = Stopwatch.StartNew();
        using (var client = app.As("unused"))
        {
            foreach (var unanswered in answers.Where(a => !a.Acknowledged))
            {
                Answer retry;
                do
                {
                    retry = await Burst.SendAsync(client, Signed(channel, bodies[unanswered.Index]), unanswered.Index, clock);
                    retries.Add(retry);
                }
                while (!retry.Acknowledged && clock.Elapsed < TimeSpan.FromSeconds(60));
            }
        }

        var expected = Enumerable.Range(0, calls).Select(i => $"wamid.kill-{i}").ToHashSet(StringComparer.Ordinal);
        List<string> stored;
        var settle = Stopwatch.StartNew();
        do
        {
            stored = (await app.ChannelMessagesAsync(tenant, channelId)).Select(m => m["externalId"]!.GetValue<string>()).ToList();
            if (expected.IsSubsetOf(stored))
            {
                break;
            }

            await Task.Delay(500);
        }
        while (settle.Elapsed < TimeSpan.FromSeconds(60));

        var acknowledged = answers.Where(a => a.Acknowledged).Select(a => $"wamid.kill-{a.Index}").ToList();
        var lost = acknowledged.Count(id => !stored.Contains(id));
        var duplicates = stored.Count - stored.Distinct(StringComparer.Ordinal).Count();
        var missing = expected.Count(id => !stored.Contains(id)) - lost;
        var figures = new Figures("Meta webhook: SIGKILL between the 200 and processing", calls, acknowledged.Count, lost, duplicates, missing,
            answers.Concat(retries).Count(a => a.BadServerError), restart.TotalSeconds,
            $"burst: {Burst.Codes(answers)}; retries: {Burst.Codes(retries)}; recovery = restart to /api/health");
        ReliabilityRun.Report(figures);

        Assert.True(killed.Task.IsCompleted, "The process was never killed.");
        ReliabilityRun.AssertCorrect(figures);
    }

    private static HttpRequestMessage Signed(TestMetaChannel channel, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, channel.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", MetaInboundApp.Sign(body, channel.AppSecret));
        return request;
    }
}
