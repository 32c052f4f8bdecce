using System.Net;
using Omni.Security;

namespace Omni.Tests.Security;

/// <summary>The address policy every outbound connection (webhooks, mail, provider clients) is held to.</summary>
public sealed class TargetAddressPolicyTests
{
    [Theory]
    [InlineData("64:ff9b::a00:1")] // NAT64 of 10.0.0.1
    [InlineData("64:ff9b::7f00:1")] // NAT64 of 127.0.0.1
    [InlineData("64:ff9b::a9fe:a9fe")] // NAT64 of the metadata service 169.254.169.254
    [InlineData("64:ff9b:1::c0a8:1")] // local-use NAT64: only ever a private network
    [InlineData("64:ff9b:1:abcd::808:808")]
    [InlineData("2002:a00:1::1")] // 6to4 of 10.0.0.1
    [InlineData("2002:c0a8:101::1")] // 6to4 of 192.168.1.1
    [InlineData("2002:a9fe:a9fe::")] // 6to4 of 169.254.169.254
    [InlineData("2001:0:a00:1::808:808")] // Teredo with server 10.0.0.1
    [InlineData("2001:0:808:808::f5ff:fffe")] // Teredo with client 10.0.0.1 (stored inverted)
    [InlineData("::a00:1")] // IPv4-compatible 10.0.0.1
    public void AnIPv6AddressThatEmbedsAPrivateIPv4IsNotPublic(string address) =>
        Assert.False(TargetAddressPolicy.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("64:ff9b::808:808")] // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::1")] // 6to4 of 8.8.8.8
    [InlineData("2001:0:808:808::f7f7:f7f7")] // Teredo, server and client 8.8.8.8
    [InlineData("2606:4700:4700::1111")]
    [InlineData("8.8.8.8")]
    public void APublicAddressStaysPublicWhateverItsPrefix(string address) =>
        Assert.True(TargetAddressPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public void AWebhookUrlWithANat64LiteralOfAPrivateAddressIsRefusedOnSave() =>
        Assert.NotNull(TargetAddressPolicy.ValidateUrl("https://[64:ff9b::a00:1]/hook", allowPrivateTargets: false));
}
