using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

public sealed class WebhookRetryScheduleTests(AzuriteFixture azurite)
{
    [Fact]
    public void TheDefaultScheduleIsTheContractsTenAttempts()
    {
        Assert.True(WebhookRetrySchedule.TryParse(null, out var steps));

        Assert.Equal(10, steps.Count);
        Assert.Equal(TimeSpan.Zero, steps[0]);
        Assert.Equal(TimeSpan.FromHours(24), steps[^1]);
        Assert.InRange(steps.Aggregate(TimeSpan.Zero, (a, b) => a + b), TimeSpan.FromDays(3), TimeSpan.FromDays(3) + TimeSpan.FromHours(4));
    }

    [Fact]
    public void ASettingReplacesTheSchedule()
    {
        Assert.True(WebhookRetrySchedule.TryParse("00:00:00, 00:00:00.200,00:01:00", out var steps));

        Assert.Equal([TimeSpan.Zero, TimeSpan.FromMilliseconds(200), TimeSpan.FromMinutes(1)], steps);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("00:00:01,")]
    [InlineData("-00:00:01")]
    [InlineData("8.00:00:00")]
    public void AnInvalidScheduleIsRejected(string value) => Assert.False(WebhookRetrySchedule.TryParse(value, out _));

    [Theory]
    [InlineData(-1.0, 0.8)]
    [InlineData(0.0, 1.0)]
    [InlineData(1.0, 1.2)]
    public void JitterStaysWithinTwentyPercent(double unit, double factor)
    {
        var schedule = new WebhookRetrySchedule(WebhookRetrySchedule.Default);

        Assert.Equal(TimeSpan.FromMinutes(30) * factor, schedule.DelayBefore(4, null, unit));
    }

    [Theory]
    [InlineData(1, 300)]
    [InlineData(600, 600)]
    [InlineData(3600, 600)]
    public void RetryAfterIsKeptBetweenTheStepAndTwiceIt(int askedSeconds, int expectedSeconds)
    {
        var schedule = new WebhookRetrySchedule(WebhookRetrySchedule.Default);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), schedule.DelayBefore(3, TimeSpan.FromSeconds(askedSeconds), 1));
    }

    [Fact]
    public async Task AnAppWithABadScheduleSettingDoesNotStartAndSaysWhichSetting()
    {
        await using var app = WebhookTestApp.Create(azurite, runLocally: false, retrySchedule: "every five minutes");
        Assert.ThrowsAny<Exception>(() => app.StartServer());

        // What start-up validation reports, read where it is raised: a failed host start can surface as the
        // disposal race of its teardown instead of the validation error itself.
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Omni:Webhooks:RetrySchedule"] = "every five minutes" }).Build())
            .AddOmniWebhooks()
            .BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WebhookOptions>>().Value);
        Assert.Contains("Omni__Webhooks__RetrySchedule", error.Message);
    }
}
