using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Email;

namespace Omni.Tests.Email;

/// <summary>The process-wide byte budget of mail ingestion, on its own (the poll through it is in <see cref="EmailIngestMemoryTests"/>).</summary>
public sealed class IngestBudgetTests
{
    private static IngestBudget Budget(long bytes) => new(Options.Create(new EmailOptions { IngestBudgetBytes = bytes }));

    [Fact]
    public async Task AReservationWaitsWhileTheBudgetIsSpentAndGoesOnOnceBytesAreGivenBack()
    {
        var budget = Budget(100);
        var first = await budget.ReserveAsync(60, TestContext.Current.CancellationToken);
        var second = budget.ReserveAsync(50, TestContext.Current.CancellationToken).AsTask();

        Assert.False(second.IsCompleted);
        Assert.Equal(60, budget.InUse);
        first.Dispose();
        (await second).Dispose();

        Assert.Equal((0L, 60L, 1L), (budget.InUse, budget.Peak, budget.Waits));
    }

    [Fact]
    public async Task AMailLargerThanTheWholeBudgetWaitsForTheOthersAndThenProceedsAlone()
    {
        var budget = Budget(100);
        var small = await budget.ReserveAsync(10, TestContext.Current.CancellationToken);
        var huge = budget.ReserveAsync(500, TestContext.Current.CancellationToken).AsTask();
        // Served in order: a small one behind the huge one does not overtake it.
        var later = budget.ReserveAsync(1, TestContext.Current.CancellationToken).AsTask();

        Assert.False(huge.IsCompleted);
        small.Dispose();
        var alone = await huge;
        Assert.Equal(100, budget.InUse);
        Assert.False(later.IsCompleted);
        alone.Dispose();
        (await later).Dispose();

        Assert.Equal((0L, 100L), (budget.InUse, budget.Peak));
    }

    [Fact]
    public async Task ACancelledWaitTakesNothingAndLetsTheNextOneIn()
    {
        var budget = Budget(100);
        var held = await budget.ReserveAsync(80, TestContext.Current.CancellationToken);
        using var cancel = new CancellationTokenSource();
        var cancelled = budget.ReserveAsync(90, cancel.Token).AsTask();
        var next = budget.ReserveAsync(20, TestContext.Current.CancellationToken).AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        (await next).Dispose();
        held.Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public void TheAppDoesNotStartWithABudgetThatIsNotPositive(string value)
    {
        using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Omni:Email:IngestBudgetBytes"] = value }).Build())
            .AddOmniEmail()
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<EmailOptions>>().Value);
        Assert.Contains("Omni__Email__IngestBudgetBytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultBudgetHoldsAFewMailsOfTheLargestSizeTakenNotDozens()
    {
        var options = new EmailOptions();

        Assert.Equal(96L * 1024 * 1024, options.IngestBudgetBytes);
        Assert.InRange(options.IngestBudgetBytes / options.MaxMessageBytes, 2, 4);
    }
}
