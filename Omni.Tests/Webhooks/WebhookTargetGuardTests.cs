using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Omni.Security;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Webhooks;

/// <summary>With private targets not allowed (production), the address actually connected to must be public.</summary>
public sealed class WebhookTargetGuardTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = WebhookTestApp.Create(azurite, runLocally: false, allowPrivateTargets: false);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public ValueTask InitializeAsync()
    {
        _listener.Start();
        _app.StartServer();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Dispose();
        await _app.DisposeAsync();
    }

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private sealed class FixedResolver(params IPAddress[] addresses) : IHostResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken = default) => Task.FromResult(addresses);
    }

    [Fact]
    public async Task ADeliveryToANameThatResolvesToLoopbackIsRefusedAtConnectAndRecorded()
    {
        // The URL passes the save-time check (https, a name); only the address it resolves to is private.
        var channel = await _app.OmniChannelAsync(webhookUrl: $"https://sink.test:{Port}/hook");
        var id = await _app.PublishAsync(channel);

        await _app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(WebhookTestApp.TaskMessage(channel, id!));

        var delivery = await _app.DeliveryAsync(channel, id!);
        var attempt = Assert.Single(delivery["attempts"]!.AsArray());
        Assert.Null(attempt!["statusCode"]);
        Assert.Contains("Refused: sink.test resolves to 127.0.0.1, not a public address", attempt["error"]!.GetValue<string>());
        Assert.False(_listener.Pending(), "Nothing may connect to a private address.");
    }

    [Fact]
    public async Task AnHttpUrlSavedWhilePrivateTargetsWereAllowedIsRefusedAtDelivery()
    {
        var channel = await _app.OmniChannelAsync(webhookUrl: $"https://sink.test:{Port}/hook");
        var store = _app.Services.GetRequiredService<Omni.Channels.IChannelStore>();
        var saved = await _app.ChannelAsync(channel);
        var settings = saved.Settings.DeepClone().AsObject();
        settings["webhookUrl"] = $"http://sink.test:{Port}/hook";
        await store.UpdateAsync(saved with { Settings = settings }, new Dictionary<string, string>());
        var id = await _app.PublishAsync(channel);

        await _app.Services.GetRequiredService<WebhookDeliveryProcessor>().ProcessAsync(WebhookTestApp.TaskMessage(channel, id!));

        var attempt = Assert.Single((await _app.DeliveryAsync(channel, id!))["attempts"]!.AsArray());
        Assert.Contains("must use https", attempt!["error"]!.GetValue<string>());
        Assert.False(_listener.Pending());
    }

    [Fact]
    public async Task TheConnectGuardConnectsOnlyWhenPrivateTargetsAreAllowed()
    {
        var connector = new SafeConnector(new LoopbackOnlyResolver());

        await Assert.ThrowsAsync<TargetRefusedException>(async () => await connector.ConnectAsync("sink.test", Port, allowPrivate: false));
        Assert.False(_listener.Pending());

        using var socket = await connector.ConnectAsync("sink.test", Port, allowPrivate: true);
        using var accepted = await _listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
        Assert.True(accepted.Connected);
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("168.63.129.16")]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.0.10")]
    [InlineData("::1")]
    [InlineData("fd00::1")]
    [InlineData("::ffff:127.0.0.1")]
    public async Task ANameThatResolvesToAPrivateOrMetadataAddressIsRefusedBeforeConnecting(string address)
    {
        var connector = new SafeConnector(new FixedResolver(IPAddress.Parse(address)));

        var refused = await Assert.ThrowsAsync<TargetRefusedException>(async () => await connector.ConnectAsync("rebound.example", 443, allowPrivate: false));

        Assert.Contains("not a public address", refused.Message);
    }
}
