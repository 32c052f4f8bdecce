extern alias StandardWebhooksLibrary;
using Microsoft.AspNetCore.Http;
using Omni.Tests.Infrastructure;
using Library = StandardWebhooksLibrary::StandardWebhooks;

namespace Omni.Tests.Webhooks;

/// <summary>
/// Real deliveries verified the way docs/webhooks.md tells integrators to: with the Standard Webhooks library for
/// C# (NuGet StandardWebhooks), which shares no code with the app's signer.
/// </summary>
public sealed class StandardWebhooksLibraryTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = WebhookTestApp.Create(azurite);
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = await WebhookSink.StartAsync();
        _app.StartServer();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sink.DisposeAsync();
    }

    [Fact]
    public async Task ARealDeliveryVerifiesWithTheStandardWebhooksLibraryAndATamperedBodyDoesNot()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        await _app.PublishAsync(channel, "Seu pedido saiu para entrega");
        var request = (await _sink.WaitForAsync(1))[0];
        var webhook = new Library.StandardWebhook(channel.WebhookSecret);

        webhook.Verify(request.Body, Headers(request));

        Assert.Throws<Library.Diagnostics.WebhookVerificationException>(() =>
            webhook.Verify(request.Body.Replace("Seu pedido saiu", "Seu pedido não saiu", StringComparison.Ordinal), Headers(request)));
        Assert.Throws<Library.Diagnostics.WebhookVerificationException>(() =>
            new Library.StandardWebhook("whsec_" + Convert.ToBase64String(new byte[32])).Verify(request.Body, Headers(request)));
    }

    [Fact]
    public async Task AfterARotationADeliveryVerifiesWithTheNewSecret()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: _sink.Url());
        var rotated = await Arrange.ReadAsync(await _app.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/webhook-secret/rotate", null), System.Net.HttpStatusCode.OK);
        await _app.PublishAsync(channel);
        var request = (await _sink.WaitForAsync(1))[0];

        // The new secret signs first. (StandardWebhooks 1.1.2 for C# reads only the first of several signatures, so
        // an integrator on it switches to the new secret at once; docs/webhooks.md says so.)
        new Library.StandardWebhook(rotated["webhookSecret"]!.GetValue<string>()).Verify(request.Body, Headers(request));
        Assert.Equal(2, request.Signature!.Split(' ').Length);
    }

    private static HeaderDictionary Headers(SinkRequest request) => new()
    {
        ["webhook-id"] = request.WebhookId,
        ["webhook-timestamp"] = request.Timestamp,
        ["webhook-signature"] = request.Signature,
    };
}
