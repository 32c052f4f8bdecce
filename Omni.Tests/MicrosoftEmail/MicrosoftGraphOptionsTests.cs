using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Email;
using Omni.MicrosoftEmail;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

public sealed class MicrosoftGraphOptionsTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData("Omni:Microsoft:GraphBaseUrl", "http://graph.microsoft.com/v1.0", "Omni__Microsoft__GraphBaseUrl")]
    [InlineData("Omni:Microsoft:GraphBaseUrl", "graph.microsoft.com", "Omni__Microsoft__GraphBaseUrl")]
    [InlineData("Omni:Microsoft:AuthorityHost", "http://login.microsoftonline.com/", "Omni__Microsoft__AuthorityHost")]
    public async Task TheAppDoesNotStartWithAGraphOrAuthorityUrlThatIsNotAbsoluteHttps(string key, string value, string named)
    {
        await using var app = new OmniApp(azurite, new Dictionary<string, string?> { [key] = value });
        Assert.ThrowsAny<Exception>(() => app.Anonymous());

        // The message, read where start-up validation raises it: a failed start can surface as the
        // ObjectDisposedException of WebApplicationFactory racing the app's teardown instead.
        using var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build())
            .AddOmniEmail().AddOmniMicrosoftEmail()
            .BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<MicrosoftGraphOptions>>().Value);
        Assert.Contains(named, error.Message);
    }
}
