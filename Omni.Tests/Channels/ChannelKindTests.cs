using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Channels;

/// <summary>The channel kinds the real app registers: each whole, every part given or left out on purpose.</summary>
public sealed class ChannelKindTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private ChannelKinds Kinds => _app.Services.GetRequiredService<ChannelKinds>();

    [Fact]
    public void EveryTypeOfTheContractIsRegisteredInTheContractsOrder()
    {
        Assert.Equal(["omni", "email", "microsoft-email", "whatsapp", "instagram", "webchat", "mercadolivre"], Kinds.Types);
    }

    [Fact]
    public void EveryRegisteredKindHasSettingsRulesAndATesterTransportAndInboundSideOrSaysWhyNot()
    {
        foreach (var type in Kinds.Types)
        {
            var kind = Kinds.Find(type)!;
            Assert.Equal(kind.SettingsRules, Kinds.Settings(type).GetType());
            foreach (var part in Enum.GetValues<ChannelPart>())
            {
                var declared = kind.Parts[part];
                object? service = part switch
                {
                    ChannelPart.Tester => Kinds.Tester(type),
                    ChannelPart.Transport => Kinds.Part<IOutboundTransport>(type),
                    _ => Kinds.Part<IMailboxPoller>(type),
                };

                if (!declared.IsPresent)
                {
                    Assert.False(string.IsNullOrWhiteSpace(declared.AbsentBecause), $"{type} has no {part} and does not say why.");
                    Assert.Null(service);
                }
                else if (declared.Implementation is { } implementation)
                {
                    Assert.True(service?.GetType() == implementation, $"{type}'s {part} is declared as {implementation.Name} but resolves to {service?.GetType().Name ?? "nothing"}.");
                }
                else
                {
                    Assert.False(string.IsNullOrWhiteSpace(declared.Description), $"{type}'s {part} is neither a service nor described.");
                }
            }
        }
    }

    [Fact]
    public void TheLiveKindsTestSendAndReceive()
    {
        foreach (var type in new[] { "omni", "email", "microsoft-email" })
        {
            Assert.NotNull(Kinds.Tester(type));
            Assert.NotNull(Kinds.Part<IOutboundTransport>(type));
            Assert.True(Kinds.Find(type)!.Parts[ChannelPart.Inbound].IsPresent, $"{type} has no inbound side.");
        }

        Assert.Equal(["email", "microsoft-email"], Kinds.Types.Where(t => Kinds.Part<IMailboxPoller>(t) is not null));
    }

    [Fact]
    public void AKindThatSaysNothingOfAPartIsRefusedAtRegistration()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<InvalidOperationException>(() =>
            services.AddChannelKind("fax", kind => kind.Settings<Omni.Webchat.WebchatSettingsRules>().NoTester("none").NoInbound("none")));

        Assert.Contains("fax", error.Message);
        Assert.Contains("Transport", error.Message);
    }

    [Fact]
    public void AKindRegisteredTwiceIsRefused()
    {
        var services = new ServiceCollection();
        static void Register(ChannelKindBuilder kind) => kind.Settings<Omni.Webchat.WebchatSettingsRules>().NoTester("none").NoTransport("none").NoInbound("none");
        services.AddChannelKind("fax", Register);

        Assert.Throws<InvalidOperationException>(() => services.AddChannelKind("fax", Register));
    }
}
