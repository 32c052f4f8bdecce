using System.Net;
using System.Text.Json.Nodes;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Omni.Tests.Infrastructure;
using Omni.Webhooks;

namespace Omni.Tests.Operations;

/// <summary>
/// A message its handler gave up on sits in a poison queue: the admin sees each poison queue's count in
/// <c>/api/health</c>; anonymous probes get the plain answer (one cheap read) and no queue names.
/// </summary>
public sealed class PoisonQueueHealthTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private OmniApp _app = null!;

    public ValueTask InitializeAsync()
    {
        var settings = IsolatedQueues.Settings();
        settings["Omni:Triggers:RunLocally"] = "true";
        settings["Omni:Triggers:MaxDequeueCount"] = "1";
        settings["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200";
        _app = new OmniApp(azurite, settings);
        _app.StartServer();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private string PoisonQueue => _app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName + "-poison";

    private async Task<JsonObject?> AdminPoisonQueuesAsync() =>
        (await Arrange.ReadAsync(await _app.Admin().GetAsync("/api/health"), HttpStatusCode.OK))["poisonQueues"] as JsonObject;

    [Fact]
    public async Task AMessageTheDeliveryFunctionGaveUpOnIsCountedInTheAdminsHealth()
    {
        Assert.Equal(0, (await AdminPoisonQueuesAsync())![PoisonQueue]!.GetValue<int>());
        var queue = new QueueClient(_app.StorageConnectionString, _app.Services.GetRequiredService<IOptions<WebhookOptions>>().Value.QueueName,
            new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

        // Not a delivery task: DeliverWebhook throws, and with one try allowed the message is poisoned at once.
        await queue.SendMessageAsync("""{"deliveryId":"msg_x"}""");

        await Eventually.HoldsAsync(async () => (await AdminPoisonQueuesAsync())![PoisonQueue]!.GetValue<int>() == 1, "the admin's health counts the poisoned message");
    }

    [Fact]
    public async Task AnonymousHealthNamesNoQueues()
    {
        var health = await Arrange.ReadAsync(await _app.Anonymous().GetAsync("/api/health"), HttpStatusCode.OK);

        Assert.Equal("ok", health["status"]!.GetValue<string>());
        Assert.False(health.ContainsKey("poisonQueues"));
    }

    [Fact]
    public async Task AWrongTokenGetsThePlainAnswerNotA401()
    {
        var health = await Arrange.ReadAsync(await _app.As("not-the-admin-token").GetAsync("/api/health"), HttpStatusCode.OK);

        Assert.False(health.ContainsKey("poisonQueues"));
    }
}
