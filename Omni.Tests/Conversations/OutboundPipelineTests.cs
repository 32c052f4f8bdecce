using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>
/// A transport whose answer is scripted by the message text: "ok", "flaky" (two transient failures, then sent),
/// "refuse" (permanent), "down" (always transient). It records every call.
/// </summary>
public sealed class ScriptedTransport : IOutboundTransport
{
    public ConcurrentQueue<(string MessageId, string? Text)> Calls { get; } = new();

    public string ChannelType => ChannelTypes.Omni;

    public Task<SendResult> SendAsync(Channel channel, Conversation conversation, Message message, CancellationToken cancellationToken = default)
    {
        Calls.Enqueue((message.Id, message.Text));
        var attempts = Calls.Count(c => c.MessageId == message.Id);
        return Task.FromResult(message.Text switch
        {
            "flaky" when attempts <= 2 => new SendResult(SendOutcome.Transient, $"busy ({attempts})"),
            "refuse" => new SendResult(SendOutcome.Permanent, "The integrator's endpoint refused the message (400)."),
            "down" => new SendResult(SendOutcome.Transient, "connection refused"),
            _ => new SendResult(SendOutcome.Sent, Mail: new MailHeaders($"<{message.Id}@test>", null, [], null, [], null)),
        });
    }
}

/// <summary>Sending from a conversation: queued, handed to the channel's transport by the SendOutbound function, retried, visible.</summary>
public sealed class OutboundPipelineTests : IAsyncLifetime
{
    private readonly ScriptedTransport _transport = new();
    private readonly OmniApp _app;

    public OutboundPipelineTests(AzuriteFixture azurite) =>
        // Queues of its own: this app runs its queue functions and must not take other test classes' messages.
        _app = new OmniApp(azurite, new Dictionary<string, string?>(IsolatedQueues.Settings())
        {
            ["Omni:Triggers:RunLocally"] = "true",
            ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
            ["Omni:Conversations:OutboundRetryDelay"] = "00:00:00.200",
            ["Omni:Conversations:OutboundRetryMaxDelay"] = "00:00:00.500",
            ["Omni:Conversations:OutboundMaxAttempts"] = "3",
        }, services => services.AddKeyedSingleton<IOutboundTransport>(ChannelTypes.Omni, _transport)
            // A kind with no transport of its own (webchat, which was one, now sends to visitors).
            .AddChannelKind("fax", kind => kind.Settings<Omni.Webchat.WebchatSettingsRules>().NoTester("none").NoTransport("none").NoInbound("none")));

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private IConversationStore Store => _app.Services.GetRequiredService<IConversationStore>();

    private async Task<(TestTenant Tenant, Conversation Conversation)> ConversationAsync(string type = "omni")
    {
        var tenant = await _app.TenantAsync();
        var channelId = type == "omni"
            ? (await _app.OmniChannelAsync(tenant)).ChannelId
            : (await _app.ChannelAsync(tenant, type, new { allowedOrigins = new[] { "https://shop.example.com" } }))["id"]!.GetValue<string>();
        var appended = await Store.AppendInboundAsync(new InboundMessage(tenant.CompanyId, channelId, "in-1", new ContactInfo("cust-42"), "hi", BodyHash: "h"));
        return (tenant, (await Store.GetConversationAsync(tenant.CompanyId, appended.Message.ConversationId))!);
    }

    private async Task<string> SendAsync(TestTenant tenant, string conversationId, string text)
    {
        var accepted = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages", new { text }), HttpStatusCode.Accepted);
        Assert.Equal("queued", accepted["status"]!.GetValue<string>());
        return accepted["messageId"]!.GetValue<string>();
    }

    private async Task<JsonObject> WaitForStatusAsync(TestTenant tenant, string conversationId, string messageId, string status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        JsonObject? message = null;
        while (DateTime.UtcNow < deadline)
        {
            var history = await Arrange.ReadAsync(await _app.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages"), HttpStatusCode.OK);
            message = history["items"]!.AsArray().Select(m => m!.AsObject()).Single(m => m["id"]!.GetValue<string>() == messageId);
            if (message["status"]!.GetValue<string>() == status)
            {
                return message;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Message {messageId} did not reach '{status}'; it is {message?.ToJsonString()}.");
        return null!;
    }

    [Fact]
    public async Task AMessageIsQueuedThenSentByTheChannelsTransport()
    {
        var (tenant, conversation) = await ConversationAsync();

        var messageId = await SendAsync(tenant, conversation.Id, "ok");
        var sent = await WaitForStatusAsync(tenant, conversation.Id, messageId, "sent");

        Assert.Equal("outbound", sent["direction"]!.GetValue<string>());
        Assert.Single(_transport.Calls, c => c.MessageId == messageId);
    }

    [Fact]
    public async Task ATransientFailureIsRetriedUntilSent()
    {
        var (tenant, conversation) = await ConversationAsync();

        var messageId = await SendAsync(tenant, conversation.Id, "flaky");
        await WaitForStatusAsync(tenant, conversation.Id, messageId, "sent");

        Assert.Equal(3, _transport.Calls.Count(c => c.MessageId == messageId));
    }

    [Fact]
    public async Task APermanentFailureIsVisibleInTheHistory()
    {
        var (tenant, conversation) = await ConversationAsync();

        var messageId = await SendAsync(tenant, conversation.Id, "refuse");
        var failed = await WaitForStatusAsync(tenant, conversation.Id, messageId, "failed");

        Assert.Contains("refused the message", failed["error"]!.GetValue<string>());
        Assert.Single(_transport.Calls, c => c.MessageId == messageId);
    }

    [Fact]
    public async Task TransientFailuresStopAfterTheLastAttempt()
    {
        var (tenant, conversation) = await ConversationAsync();

        var messageId = await SendAsync(tenant, conversation.Id, "down");
        var failed = await WaitForStatusAsync(tenant, conversation.Id, messageId, "failed");

        Assert.Contains("Gave up after 3 attempts", failed["error"]!.GetValue<string>());
        Assert.Equal(3, _transport.Calls.Count(c => c.MessageId == messageId));
    }

    [Fact]
    public async Task ARedeliveredQueueMessageOfASentMessageSendsNothing()
    {
        var (tenant, conversation) = await ConversationAsync();
        var messageId = await SendAsync(tenant, conversation.Id, "ok");
        await WaitForStatusAsync(tenant, conversation.Id, messageId, "sent");

        await _app.Services.GetRequiredService<OutboundQueue>().EnqueueAsync(new OutboundWork(tenant.CompanyId, conversation.Id, messageId));
        var marker = await SendAsync(tenant, conversation.Id, "ok");
        await WaitForStatusAsync(tenant, conversation.Id, marker, "sent");

        Assert.Single(_transport.Calls, c => c.MessageId == messageId);
    }

    [Fact]
    public async Task AChannelTypeWithoutATransportFailsWithAReason()
    {
        var (tenant, conversation) = await ConversationAsync("fax");

        var messageId = await SendAsync(tenant, conversation.Id, "ok");
        var failed = await WaitForStatusAsync(tenant, conversation.Id, messageId, "failed");

        Assert.Contains("No transport sends messages on channels of type 'fax'", failed["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMessageQueuedBeforeItsChannelWasDeletedFailsVisibly()
    {
        var (tenant, conversation) = await ConversationAsync();
        var message = await Store.AppendOutboundAsync(conversation, "ok", null, []);
        await _app.As(tenant.ManagementKey).DeleteAsync($"/api/companies/{tenant.CompanyId}/channels/{conversation.ChannelId}");

        await _app.Services.GetRequiredService<OutboundQueue>().EnqueueAsync(new OutboundWork(tenant.CompanyId, conversation.Id, message.Id));
        var failed = await WaitForStatusAsync(tenant, conversation.Id, message.Id, "failed");

        Assert.Contains("channel was deleted", failed["error"]!.GetValue<string>());
        Assert.DoesNotContain(_transport.Calls, c => c.MessageId == message.Id);
    }

    [Fact]
    public async Task AMessageQueuedBeforeItsConversationClosedFailsVisibly()
    {
        var (tenant, conversation) = await ConversationAsync();
        var message = await Store.AppendOutboundAsync(conversation, "ok", null, []);
        await Store.CloseAsync(tenant.CompanyId, conversation.Id);

        await _app.Services.GetRequiredService<OutboundQueue>().EnqueueAsync(new OutboundWork(tenant.CompanyId, conversation.Id, message.Id));
        var failed = await WaitForStatusAsync(tenant, conversation.Id, message.Id, "failed");

        Assert.Contains("closed", failed["error"]!.GetValue<string>());
        Assert.DoesNotContain(_transport.Calls, c => c.MessageId == message.Id);
    }
}
