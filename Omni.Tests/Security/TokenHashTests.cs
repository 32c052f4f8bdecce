using Omni.Security;

namespace Omni.Tests.Security;

public sealed class TokenHashTests
{
    [Fact]
    public void FixedTimeEqualsComparesDigestsOfOneSizeSoTheExpectedTokensLengthDoesNotShow()
    {
        // Comparing raw bytes stops at once when the lengths differ: the time of a wrong guess would tell the admin
        // token's length. Digests of one size leave nothing to tell.
        Assert.Equal(32, TokenHash.ComparisonDigest("a").Length);
        Assert.Equal(32, TokenHash.ComparisonDigest(new string('x', 4096)).Length);
    }

    [Theory]
    [InlineData("admin-token", "admin-token", true)]
    [InlineData("admin-token", "admin-tokem", false)]
    [InlineData("admin-token", "admin-token-longer", false)]
    [InlineData("admin-token", "", false)]
    public void FixedTimeEqualsIsTrueOnlyForTheSameToken(string expected, string presented, bool equal) =>
        Assert.Equal(equal, TokenHash.FixedTimeEquals(presented, expected));
}
