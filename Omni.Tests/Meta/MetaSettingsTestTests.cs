using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>"Testar Configurações" for WhatsApp and Instagram against the fake Graph API: each failure named, no secret shown.</summary>
public sealed class MetaSettingsTestTests(AzuriteFixture azurite, MetaFixture meta) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = meta.CreateApp(azurite);

    private FakeMeta Meta => meta.Meta;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static string Message(System.Text.Json.Nodes.JsonObject report) => report["message"]!.GetValue<string>();

    [Fact]
    public async Task AWhatsAppNumberWithItsTokenAndASubscribedAccountIsConfiguredOk()
    {
        var channel = await _app.WhatsAppChannelAsync(Meta.AddPhoneNumber());

        var report = await _app.TestChannelAsync(channel);

        Assert.True(report["ok"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Equal("Configurações OK", Message(report));
        Assert.Equal(2, report["checks"]!.AsArray().Count);
        Assert.Contains(Meta.Requests, r => r.Path.EndsWith($"/{channel.SenderId}", StringComparison.Ordinal) && r.Query.Contains("display_phone_number", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AWrongWhatsAppTokenIsNamedWithoutShowingIt()
    {
        var number = Meta.AddPhoneNumber();
        var channel = await _app.WhatsAppChannelAsync(number, token: "EAAG-not-a-real-token");

        var report = await _app.TestChannelAsync(channel);

        Assert.False(report["ok"]!.GetValue<bool>());
        Assert.Contains("access token is invalid or expired (190", Message(report));
        Assert.DoesNotContain("EAAG-not-a-real-token", report.ToJsonString());
    }

    [Fact]
    public async Task AWrongPhoneNumberIdIsNamed()
    {
        var number = Meta.AddPhoneNumber();
        var other = Meta.AddPhoneNumber();
        // The token is real (it acts for another number); the id is one Meta does not know.
        var channel = await _app.WhatsAppChannelAsync(number with { Id = "100000000000999", AccessToken = other.AccessToken });

        var report = await _app.TestChannelAsync(channel);

        Assert.Contains("phone number id 100000000000999 was not found", Message(report));
    }

    [Fact]
    public async Task APhoneNumberIdOfAnotherNumberIsNamed()
    {
        var number = Meta.AddPhoneNumber("+55 21 97777-6666");
        var channel = await _app.WhatsAppChannelAsync(number with { DisplayNumber = "+55 11 98888-7777" });

        var report = await _app.TestChannelAsync(channel);

        Assert.Contains("is the number +55 21 97777-6666, not the channel's number", Message(report));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(200)]
    public async Task AMissingPermissionIsNamed(int code)
    {
        var number = Meta.AddPhoneNumber();
        var channel = await _app.WhatsAppChannelAsync(number);
        Meta.FailNext(c => c.Segments is [var id] && id == number.Id, MetaResponse.Error(403, code, "(#10) Application does not have permission for this action"));

        var report = await _app.TestChannelAsync(channel);

        Assert.Contains("missing the permission whatsapp_business_messaging", Message(report));
    }

    [Fact]
    public async Task AnAccountNoAppIsSubscribedToIsNamed()
    {
        var number = Meta.AddPhoneNumber();
        Meta.Unsubscribed[number.BusinessAccountId] = true;
        var channel = await _app.WhatsAppChannelAsync(number);

        var report = await _app.TestChannelAsync(channel);

        Assert.Equal([true, false], report["checks"]!.AsArray().Select(c => c!["ok"]!.GetValue<bool>()));
        Assert.Contains("No app is subscribed to the webhooks", Message(report));
    }

    [Fact]
    public async Task AWhatsAppChannelWithoutABusinessAccountChecksTheNumberOnly()
    {
        var channel = await _app.WhatsAppChannelAsync(Meta.AddPhoneNumber(), withAccount: false);

        var report = await _app.TestChannelAsync(channel);

        Assert.True(report["ok"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Single(report["checks"]!.AsArray());
    }

    [Fact]
    public async Task AnInstagramPageConnectedToItsAccountAndSubscribedIsConfiguredOk()
    {
        var channel = await _app.InstagramChannelAsync(Meta.AddPage());

        var report = await _app.TestChannelAsync(channel);

        Assert.True(report["ok"]!.GetValue<bool>(), report.ToJsonString());
        Assert.Contains(Meta.Requests, r => r.Path.EndsWith($"/{channel.SenderId}", StringComparison.Ordinal) && r.Query.Contains("instagram_business_account", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnInstagramAccountOtherThanThePagesIsNamed()
    {
        var page = Meta.AddPage();
        var channel = await _app.InstagramChannelAsync(page, instagramAccountId: "17841400000000001");

        var report = await _app.TestChannelAsync(channel);

        Assert.Contains($"connected to the Instagram account {page.InstagramAccountId}, not the channel's instagramAccountId 17841400000000001", Message(report));
    }

    [Fact]
    public async Task ARevokedPageTokenIsNamed()
    {
        var page = Meta.AddPage();
        var channel = await _app.InstagramChannelAsync(page);
        page.TokenRevoked = true;

        var report = await _app.TestChannelAsync(channel);

        Assert.Contains("access token is invalid or expired (190", Message(report));
        Assert.DoesNotContain(page.AccessToken, report.ToJsonString());
    }

    [Fact]
    public async Task APageWithoutTheMessagesWebhookIsNamed()
    {
        var page = Meta.AddPage();
        Meta.Unsubscribed[page.Id] = true;
        var channel = await _app.InstagramChannelAsync(page);

        var report = await _app.TestChannelAsync(channel);

        Assert.Contains("No app is subscribed to the page's messages webhook", Message(report));
    }
}
