using Microsoft.Extensions.Options;
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

        var error = Assert.Throws<OptionsValidationException>(() => app.Anonymous());

        Assert.Contains(named, error.Message);
    }
}
