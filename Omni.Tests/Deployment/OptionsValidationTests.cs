using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Functions.Hosting;
using Omni.Voice;
using Omni.Webchat;

namespace Omni.Tests.Deployment;

/// <summary>
/// Every setting with a DataAnnotations limit stops the app at start when it is out of range, naming the setting.
/// The limits are checked by source-generated validators (no reflection), which the Native AOT package relies on:
/// a feature that forgets to register its validator lets a bad setting through, and this fails.
/// </summary>
public sealed class OptionsValidationTests
{
    private const string AdminToken = "0123456789abcdef0123456789abcdef";

    public static TheoryData<string, string> OutOfRange => new()
    {
        { "Omni:AdminToken", "too-short" },
        { "Omni:Voice:MaxAudioBytes", "10" },
        { "Omni:Voice:MaxAudioDuration", "02:00:00" },
        { "Omni:Voice:EspeakPath", "" },
        { "Omni:Voice:SpeechTimeout", "00:10:00" },
        { "Omni:Voice:AudioUrlLifetime", "00:00:10" },
        { "Omni:Voice:MenuTimeoutSeconds", "0" },
        { "Omni:Webchat:SessionPermitsPerMinute", "0" },
        { "Omni:Webchat:IpPermitsPerMinute", "0" },
        { "Omni:Webchat:EventsPollInterval", "00:00:00.010" },
        { "Omni:Webchat:SessionIdleTimeout", "00:00:00" },
        { "Omni:Webchat:WebPubSubHub", "1-hub" },
        { "Omni:Webchat:WebPubSubTokenMinutes", "0" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void AnOutOfRangeSettingStopsTheStartNamingIt(string key, string value)
    {
        using var services = Services(new() { [key] = value });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IStartupValidator>().Validate());

        var member = key[(key.LastIndexOf(':') + 1)..];
        Assert.StartsWith($"{member}: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultsStartWithOnlyTheAdminTokenSet()
    {
        using var services = Services([]);

        services.GetRequiredService<IStartupValidator>().Validate();

        Assert.Equal(TimeSpan.FromSeconds(15), services.GetRequiredService<IOptions<WebchatOptions>>().Value.EventsPollInterval);
    }

    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["Omni:AdminToken"] = AdminToken;
        foreach (var (key, value) in settings)
        {
            builder.Configuration[key] = value;
        }

        builder.AddOmniApi();
        builder.Services.AddOmniVoice().AddVoiceCalls().AddWebchatChannel();
        return builder.Services.BuildServiceProvider();
    }
}
