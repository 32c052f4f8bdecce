using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webchat;
using Omni.Voice;
using static Omni.Tests.Voice.CallArrange;

namespace Omni.Tests.Voice;

/// <summary>Without an access key the app calls ACS with its managed identity's token; ACS settings are checked at start.</summary>
public sealed class AcsIdentityTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private const string EntraToken = "entra-token-for-acs";
    private readonly FixedTokenCredential _credential = new(EntraToken);
    private AcsTestHost _host = null!;

    private FakeAcs Acs => _host.Acs;

    private OmniApp App => _host.App;

    public async ValueTask InitializeAsync()
    {
        _host = await AcsTestHost.StartAsync(azurite, withAccessKey: false, services => services.AddSingleton(new AcsCredential(_credential)));
        Acs.BearerToken = EntraToken;
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task WithoutAnAccessKeyEveryRequestCarriesTheAppsTokenForCommunicationServices()
    {
        var call = await App.RingAsync(Acs, await App.CallSetupAsync(), OpenInstant);
        await App.CallbackAsync(call, "CallConnected");

        Assert.Equal(["answer", "recognize"], Acs.For(call.CallConnectionId).Select(r => r.Operation));
        Assert.All(Acs.For(call.CallConnectionId), r => Assert.Equal("Bearer " + EntraToken, r.Authorization));
        Assert.Contains("https://communication.azure.com//.default", _credential.Scopes);
        Assert.Equal(0, Acs.Refused);
    }

    [Theory]
    [InlineData("http://omni.communication.azure.com", "https://omni.example.com", null, "Omni__Voice__AcsEndpoint")]
    [InlineData("https://omni.communication.azure.com", null, null, "Omni__Voice__PublicBaseUrl")]
    [InlineData("https://omni.communication.azure.com", "https://omni.example.com", "not base64!", "Omni__Voice__AcsAccessKey")]
    public void AMalformedAcsSettingIsRefusedNamingIt(string endpoint, string? publicBaseUrl, string? accessKey, string named)
    {
        var options = new AcsOptions { AcsEndpoint = new Uri(endpoint), PublicBaseUrl = publicBaseUrl is null ? null : new Uri(publicBaseUrl), AcsAccessKey = accessKey };

        var result = App.Services.GetServices<IValidateOptions<AcsOptions>>().Select(v => v.Validate(Options.DefaultName, options)).Single(r => r.Failed);

        Assert.Contains(named, result.FailureMessage, StringComparison.Ordinal);
        Assert.Null(AcsOptions.Check(new AcsOptions()));
    }
}
