using System.Net;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MercadoLivre;

/// <summary>A notification acknowledged by an instance that stopped before processing it is processed by the next.</summary>
public sealed class MercadoLivreCrashTests(AzuriteFixture azurite, MercadoLivreFixture ml) : IClassFixture<MercadoLivreFixture>
{
    [Fact]
    public async Task ANotificationAcknowledgedBeforeACrashIsProcessedByTheNextInstance()
    {
        var settings = MercadoLivreFixture.Settings();
        var seller = ml.Fake.AddSeller();
        var question = ml.Fake.AddQuestion(seller, "Sobrevive?");
        TestMercadoLivreChannel channel;
        await using (var acknowledging = ml.CreateApp(azurite, new Dictionary<string, string?>(settings) { ["Omni:Triggers:RunLocally"] = "false" }))
        {
            channel = await acknowledging.MercadoLivreChannelAsync(seller);
            Assert.Equal(HttpStatusCode.OK, (await acknowledging.NotifyAsync(channel.NotificationKey,
                MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id))).StatusCode);
        }

        Assert.DoesNotContain(ml.Fake.Requests, r => r.Path == $"/questions/{question.Id}");
        await using var next = ml.CreateApp(azurite, settings);
        var inbound = await next.WaitForInboundAsync(channel, $"question:{question.Id}");
        Assert.Equal("Sobrevive?", inbound.Text);
    }
}
