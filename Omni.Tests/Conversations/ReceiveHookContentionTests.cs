using System.Net;
using System.Net.Http.Json;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>Many messages of one contact at once all land on one conversation row: the losers of that race are told to retry, never a 5xx.</summary>
public sealed class ReceiveHookContentionTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const int Burst = 48;
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task ABurstOfOneContactsMessagesIsAcceptedOrToldToRetryAndEveryRetryLands()
    {
        var channel = await _app.OmniChannelAsync();
        var client = _app.As(channel.ApiKey);
        var pending = Enumerable.Range(0, Burst).Select(i => $"burst-{i}").ToList();
        var statuses = new List<HttpStatusCode>();
        for (var round = 0; pending.Count > 0 && round < 20; round++)
        {
            var answers = await Task.WhenAll(pending.Select(async id =>
            {
                using var response = await client.PostAsJsonAsync("/api/receive_hook", new { externalId = id, contact = new { externalId = "cust-burst", name = "Maria" }, text = "Oi " + id });
                return (Id: id, response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta, Type: response.Content.Headers.ContentType?.MediaType);
            }));
            statuses.AddRange(answers.Select(a => a.StatusCode));
            Assert.All(answers, a => Assert.True(a.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK or HttpStatusCode.TooManyRequests,
                $"{a.Id}: {(int)a.StatusCode}"));
            Assert.All(answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests), a => Assert.True(a.RetryAfter is not null && a.Type == "application/problem+json", $"{a.Id}: a 429 without Retry-After or problem"));
            pending = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).Select(a => a.Id).ToList();
        }

        Assert.Empty(pending);
        var conversations = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations?channelId={channel.ChannelId}&contactExternalId=cust-burst"), HttpStatusCode.OK);
        var conversation = Assert.Single(conversations["items"]!.AsArray());
        var messages = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversation!["id"]}/messages?limit=100"), HttpStatusCode.OK);
        Assert.Equal(Burst, messages["items"]!.AsArray().Select(m => m!["externalId"]!.GetValue<string>()).Distinct().Count());
    }
}
