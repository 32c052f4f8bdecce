using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Omni.Channels;
using Omni.Email;
using Omni.MicrosoftEmail;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>Graph's 429/503 with Retry-After, on the app's own clock (a fake one) so no test waits out a pause.</summary>
public sealed class MicrosoftEmailThrottlingTests : IClassFixture<MicrosoftCloudFixture>, IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly OmniApp _app;
    private readonly MicrosoftCloudFixture _microsoft;

    public MicrosoftEmailThrottlingTests(AzuriteFixture azurite, MicrosoftCloudFixture microsoft)
    {
        _microsoft = microsoft;
        _app = microsoft.CreateApp(azurite, services =>
        {
            services.AddSingleton<TimeProvider>(_clock);
        });
    }

    private FakeMicrosoftCloud Cloud => _microsoft.Cloud;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task AThrottledMailboxIsNotCalledAgainBeforeItsRetryAfter(int status)
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Mailbox.Deliver(MicrosoftEmailPollingTests.Mail("maria@example.com", "Throttled"));
        Cloud.Throttle(channel.Mailbox, "30", status);

        var throttled = await PollAsync(channel);
        var callsWhenThrottled = Cloud.GraphRequests(channel.Mailbox).Count;
        _clock.Advance(TimeSpan.FromSeconds(29));
        var tooEarly = await PollAsync(channel);
        var callsTooEarly = Cloud.GraphRequests(channel.Mailbox).Count;
        _clock.Advance(TimeSpan.FromSeconds(1));
        var afterPause = await PollAsync(channel);

        // One call, answered 429/503, and no retry of it by the SDK within the pause.
        Assert.Equal(1, callsWhenThrottled);
        Assert.Equal(status, Cloud.GraphRequests(channel.Mailbox)[0].Status);
        Assert.Equal(TimeSpan.FromSeconds(30), throttled.RetryAfter);
        Assert.Equal(0, throttled.Ingested);
        Assert.Equal(callsWhenThrottled, callsTooEarly);
        // Only the throttled poll asks to be queued again; polls inside the pause add no more queue messages.
        Assert.Null(tooEarly.RetryAfter);
        Assert.Equal(0, tooEarly.Ingested);
        Assert.Equal(1, afterPause.Ingested);
        Assert.Null(afterPause.RetryAfter);
    }

    [Fact]
    public async Task ARetryAfterGivenAsADateIsKeptToo()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        channel.Mailbox.Deliver(MicrosoftEmailPollingTests.Mail("maria@example.com", "Throttled by date"));
        Cloud.Throttle(channel.Mailbox, _clock.GetUtcNow().AddSeconds(60).ToString("r", System.Globalization.CultureInfo.InvariantCulture));

        var throttled = await PollAsync(channel);
        _clock.Advance(TimeSpan.FromSeconds(58));
        await PollAsync(channel);
        var callsBeforeTheDate = Cloud.GraphRequests(channel.Mailbox).Count;
        _clock.Advance(TimeSpan.FromSeconds(2));
        var afterPause = await PollAsync(channel);

        Assert.InRange(throttled.RetryAfter!.Value, TimeSpan.FromSeconds(59), TimeSpan.FromSeconds(60));
        Assert.Equal(1, callsBeforeTheDate);
        Assert.Equal(1, afterPause.Ingested);
    }

    [Fact]
    public async Task ThrottlingInAnotherMailboxDoesNotDelayThisOne()
    {
        var throttled = await _app.GraphChannelAsync(Cloud);
        var other = await _app.GraphChannelAsync(Cloud);
        other.Mailbox.Deliver(MicrosoftEmailPollingTests.Mail("maria@example.com", "Livre"));
        Cloud.Throttle(throttled.Mailbox, "120");

        await PollAsync(throttled);
        var result = await PollAsync(other);

        Assert.Equal(1, result.Ingested);
    }

    [Fact]
    public async Task AThrottledSendIsTransientWithItsRetryAfter()
    {
        var channel = await _app.GraphChannelAsync(Cloud);
        Cloud.Throttle(channel.Mailbox, "45");
        var stored = await _app.Services.GetRequiredService<IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId);

        var result = await _app.Services.GetRequiredService<GraphMailSender>().SendAsync(stored!, MicrosoftEmailPollingTests.Mail(channel.Mailbox.Address, "Re: x"));

        Assert.Equal(Omni.Conversations.SendOutcome.Transient, result.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(45), result.RetryAfter);
        Assert.Single(Cloud.GraphRequests(channel.Mailbox));
        Assert.Empty(channel.Mailbox.Sent);
    }

    private async Task<PollResult> PollAsync(GraphMailboxChannel channel)
    {
        var stored = await _app.Services.GetRequiredService<IChannelStore>().GetAsync(channel.Tenant.CompanyId, channel.ChannelId);
        var poller = _app.Services.GetServices<IMailboxPoller>().Single(p => p.ChannelType == "microsoft-email");
        return await poller.PollAsync(stored!);
    }
}
