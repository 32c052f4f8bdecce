using Azure.Identity;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Identity.Client;
using Omni.MicrosoftEmail;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>How token endpoint and Graph failures that the fake cloud does not produce are read.</summary>
public sealed class GraphFailureTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public void AnUnreachableTokenEndpointIsTransient()
    {
        var unreachable = new AuthenticationFailedException("ClientSecretCredential authentication failed",
            new AggregateException(new HttpRequestException("Connection refused")));

        var failure = GraphFailure.From(unreachable, _clock)!;

        Assert.Equal(GraphFailureKind.Unavailable, failure.Kind);
        Assert.True(failure.IsTransient);
    }

    [Fact]
    public void AnExpiredSecretIsToldApartFromAWrongOne()
    {
        var expired = new AuthenticationFailedException("failed", new MsalServiceException("invalid_client", "AADSTS7000222: The provided client secret keys are expired.") { });

        var failure = GraphFailure.From(expired, _clock)!;

        Assert.Equal(GraphFailureKind.WrongSecret, failure.Kind);
        Assert.Contains("expired", failure.Message);
        Assert.False(failure.IsTransient);
    }

    [Fact]
    public void AGraphServerErrorIsTransientWithItsRetryAfterDate()
    {
        var error = new ODataError
        {
            ResponseStatusCode = 502,
            ResponseHeaders = new Dictionary<string, IEnumerable<string>> { ["Retry-After"] = [_clock.GetUtcNow().AddSeconds(90).ToString("r")] },
        };

        var failure = GraphFailure.From(error, _clock)!;

        Assert.Equal(GraphFailureKind.Unavailable, failure.Kind);
        Assert.Equal(TimeSpan.FromSeconds(90), failure.RetryAfter);
    }

    [Fact]
    public void AnUnrelatedExceptionIsNotMistakenForAGraphFailure() =>
        Assert.Null(GraphFailure.From(new InvalidOperationException("a bug"), _clock));
}
