using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Omni.Conversations;
using Omni.Meta;
using Omni.Tests.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Meta;

/// <summary>
/// WhatsApp's <c>expirationMinutes</c>: the WhatsAppExpiry timer closes a conversation the customer left idle that long
/// (reason <c>expired</c>), reading only the due rows; an inbound message moves expiry on; agents' closes, channels
/// without expiry and other companies are left alone. The timer runs here on a clock set to the due times the stored
/// conversation gives, so nothing waits and no elapsed time is asserted.
/// </summary>
public sealed class WhatsAppExpiryTests(MetaFixture meta, AzuriteFixture azurite) : IClassFixture<MetaFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Hour = TimeSpan.FromMinutes(60);

    private readonly MetaInboundApp _meta = new(meta, azurite);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _meta.DisposeAsync();

    /// <summary>Runs the WhatsAppExpiry handler once, as its timer would, on a clock reading <paramref name="now"/>.</summary>
    private async Task<int> SweepAtAsync(DateTimeOffset now, WhatsAppExpiry? expiry = null)
    {
        await using var scope = _meta.App.Services.CreateAsyncScope();
        object[] given = expiry is null ? [new FakeTimeProvider(now)] : [new FakeTimeProvider(now), expiry];
        return await ActivatorUtilities.CreateInstance<WhatsAppExpirySweep>(scope.ServiceProvider, given).SweepAsync();
    }

    /// <summary>The customer writes; returns the conversation as stored once the event is processed.</summary>
    private async Task<Conversation> CustomerWritesAsync(TestMetaChannel channel, string wamid, string text = "Oi")
    {
        await _meta.DeliverAsync(channel, MetaEvents.WhatsApp(channel, MetaEvents.Text(wamid, text)));
        await _meta.DrainAsync();
        var conversation = Assert.Single(await _meta.ConversationsAsync(channel), c => c["status"]!.GetValue<string>() == "open");
        return (await _meta.Store.GetConversationAsync(channel.Tenant.CompanyId, conversation["id"]!.GetValue<string>()))!;
    }

    private async Task<JsonObject> ConversationAsync(TestMetaChannel channel, string conversationId) =>
        await Arrange.ReadAsync(await _meta.App.As(channel.Tenant.ManagementKey).GetAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversationId}"), HttpStatusCode.OK);

    private TableClient Table(Func<IServiceProvider, string> name) => new(_meta.App.StorageConnectionString, name(_meta.App.Services));

    private async Task<List<TableEntity>> ExpiryRowsAsync() =>
        await Table(sp => sp.GetRequiredService<IOptions<MetaInboundOptions>>().Value.ExpiryTableName).QueryAsync<TableEntity>().ToListAsync();

    [Fact]
    public async Task AConversationTheCustomerLeftIdleForTheChannelsMinutesIsClosedAsExpired()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var conversation = await CustomerWritesAsync(channel, "wamid.idle");
        var dueAt = conversation.LastInboundAt!.Value + Hour;

        Assert.Equal(0, await SweepAtAsync(dueAt - TimeSpan.FromMinutes(1)));
        Assert.Equal("open", (await ConversationAsync(channel, conversation.Id))["status"]!.GetValue<string>());

        Assert.Equal(1, await SweepAtAsync(dueAt));

        var closed = await ConversationAsync(channel, conversation.Id);
        Assert.Equal("closed", closed["status"]!.GetValue<string>());
        Assert.Equal("expired", closed["closeReason"]!.GetValue<string>());
        Assert.Empty(await ExpiryRowsAsync());
        // conversation.closed was handed on as an agent's close is: its outbox item is done, nothing is left for the outbox sweep.
        Assert.Empty(await Table(sp => sp.GetRequiredService<IOptions<ConversationOptions>>().Value.OutboxTableName).QueryAsync<TableEntity>().ToListAsync());
        Assert.False((await Table(_ => ConversationRows.Table).GetEntityIfExistsAsync<TableEntity>(channel.Tenant.CompanyId, $"q|{conversation.Id}")).HasValue);
        // The customer's next message opens a new conversation.
        var next = await CustomerWritesAsync(channel, "wamid.after");
        Assert.NotEqual(conversation.Id, next.Id);
    }

    [Fact]
    public async Task AnInboundMessagePushesExpiryOnSoTheConversationClosesOnlyAtTheNewDueTime()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var first = await CustomerWritesAsync(channel, "wamid.first");
        var second = await CustomerWritesAsync(channel, "wamid.second", "Ainda estou aqui");
        Assert.Equal(first.Id, second.Id);
        Assert.True(second.LastInboundAt > first.LastInboundAt);

        Assert.Equal(0, await SweepAtAsync(first.LastInboundAt!.Value + Hour));
        Assert.Equal("open", (await ConversationAsync(channel, first.Id))["status"]!.GetValue<string>());
        Assert.Equal(0, await SweepAtAsync(second.LastInboundAt!.Value + Hour - TimeSpan.FromTicks(1)));
        Assert.Equal("open", (await ConversationAsync(channel, first.Id))["status"]!.GetValue<string>());

        Assert.Equal(1, await SweepAtAsync(second.LastInboundAt!.Value + Hour));
        Assert.Equal("expired", (await ConversationAsync(channel, first.Id))["closeReason"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMessageMetaDeliversAgainSchedulesItsOpenConversationAgainSoALostRowIsMended()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var conversation = await CustomerWritesAsync(channel, "wamid.replayed");
        // As if the process had died after storing the message and before writing the row.
        var table = Table(sp => sp.GetRequiredService<IOptions<MetaInboundOptions>>().Value.ExpiryTableName);
        foreach (var row in await ExpiryRowsAsync())
        {
            await table.DeleteEntityAsync(row);
        }

        Assert.Equal(0, await SweepAtAsync(conversation.LastInboundAt!.Value + Hour));
        await CustomerWritesAsync(channel, "wamid.replayed");

        Assert.Equal(1, await SweepAtAsync(conversation.LastInboundAt!.Value + Hour));
        Assert.Equal("expired", (await ConversationAsync(channel, conversation.Id))["closeReason"]!.GetValue<string>());
    }

    [Fact]
    public async Task AConversationATemplateOpenedExpiresFromItsOpeningWhenTheCustomerNeverAnswers()
    {
        var number = _meta.Meta.AddPhoneNumber();
        _meta.Meta.AddTemplate(number, "pedido_enviado");
        var channel = await _meta.App.WhatsAppChannelAsync(number, hsmOpensConversation: true);
        var accepted = await Arrange.ReadAsync(await _meta.App.As(channel.Tenant.ManagementKey).PostAsJsonAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/templates/send",
            new { to = "+5511912345678", template = new { name = "pedido_enviado", language = "pt_BR" } }), HttpStatusCode.Accepted);
        var conversation = (await _meta.Store.GetConversationAsync(channel.Tenant.CompanyId, accepted["conversationId"]!.GetValue<string>()))!;
        Assert.Null(conversation.LastInboundAt);
        var expiration = TimeSpan.FromMinutes(1440);

        Assert.Equal(0, await SweepAtAsync(conversation.CreatedAt + expiration - TimeSpan.FromMinutes(1)));
        Assert.Equal(1, await SweepAtAsync(conversation.CreatedAt + expiration));

        var expired = (await _meta.Store.GetConversationAsync(channel.Tenant.CompanyId, conversation.Id))!;
        Assert.Equal((ConversationStatus.Closed, ConversationCloseReason.Expired), (expired.Status, expired.CloseReason));
    }

    [Fact]
    public async Task AConversationAnAgentClosedIsLeftAsTheAgentClosedItAndItsRowDropped()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var conversation = await CustomerWritesAsync(channel, "wamid.agent");
        var byAgent = await Arrange.ReadAsync(await _meta.App.As(channel.Tenant.ManagementKey).PostAsync(
            $"/api/companies/{channel.Tenant.CompanyId}/conversations/{conversation.Id}/close", null), HttpStatusCode.OK);
        Assert.Equal("agent", byAgent["closeReason"]!.GetValue<string>());
        Assert.Single(await ExpiryRowsAsync());

        Assert.Equal(0, await SweepAtAsync(conversation.LastInboundAt!.Value + Hour));

        var closed = await ConversationAsync(channel, conversation.Id);
        Assert.Equal("agent", closed["closeReason"]!.GetValue<string>());
        Assert.Equal(byAgent["closedAt"]!.GetValue<DateTimeOffset>(), closed["closedAt"]!.GetValue<DateTimeOffset>());
        Assert.Empty(await ExpiryRowsAsync());
    }

    [Fact]
    public async Task AConversationOnAChannelWithoutExpiryNeverExpires()
    {
        // expirationMinutes is required of whatsapp channels (1 to 10080); instagram channels have none.
        var channel = await _meta.InstagramChannelAsync();
        await _meta.DeliverAsync(channel, MetaEvents.Instagram(channel, MetaEvents.Messaging(channel, "igsid-expiry", "message", "{\"mid\":\"mid.expiry\",\"text\":\"Oi\"}")));
        await _meta.DrainAsync();
        var conversation = Assert.Single(await _meta.ConversationsAsync(channel));

        Assert.Equal(0, await SweepAtAsync(DateTimeOffset.UtcNow + TimeSpan.FromDays(30)));

        Assert.Equal("open", (await ConversationAsync(channel, conversation["id"]!.GetValue<string>()))["status"]!.GetValue<string>());
        Assert.Empty(await ExpiryRowsAsync());
    }

    [Fact]
    public async Task ATickWithNothingDueIsOneStorageQuery()
    {
        var channel = await _meta.WhatsAppChannelAsync();
        var conversation = await CustomerWritesAsync(channel, "wamid.notdue");
        var counting = new StorageSwitch();
        var options = new TableClientOptions();
        options.AddPolicy(counting, HttpPipelinePosition.PerRetry);
        var expiry = new WhatsAppExpiry(new TableServiceClient(_meta.App.StorageConnectionString, options), _meta.Store,
            _meta.App.Services.GetRequiredService<IOptions<MetaInboundOptions>>());

        Assert.Equal(0, await SweepAtAsync(conversation.LastInboundAt!.Value + Hour - TimeSpan.FromSeconds(1), expiry));

        Assert.Equal(1, counting.Requests);
        Assert.Single(await ExpiryRowsAsync());
    }

    [Fact]
    public async Task ExpiringOneCompanysConversationLeavesAnotherCompanysAlone()
    {
        var a = await _meta.WhatsAppChannelAsync(expirationMinutes: 60);
        var b = await _meta.WhatsAppChannelAsync(expirationMinutes: 120);
        Assert.NotEqual(a.Tenant.CompanyId, b.Tenant.CompanyId);
        var ofA = await CustomerWritesAsync(a, "wamid.a");
        var ofB = await CustomerWritesAsync(b, "wamid.b");

        Assert.Equal(1, await SweepAtAsync(ofB.LastInboundAt!.Value + Hour));

        Assert.Equal("expired", (await ConversationAsync(a, ofA.Id))["closeReason"]!.GetValue<string>());
        var untouched = (await _meta.Store.GetConversationAsync(b.Tenant.CompanyId, ofB.Id))!;
        Assert.Equal(ConversationStatus.Open, untouched.Status);
        Assert.Equal(ofB.UpdatedAt, untouched.UpdatedAt);
        Assert.Null(await _meta.Store.GetConversationAsync(b.Tenant.CompanyId, ofA.Id));
        Assert.Equal(b.Tenant.CompanyId, Assert.Single(await ExpiryRowsAsync()).GetString("CompanyId"));

        Assert.Equal(1, await SweepAtAsync(ofB.LastInboundAt!.Value + TimeSpan.FromMinutes(120)));
        Assert.Equal("expired", (await ConversationAsync(b, ofB.Id))["closeReason"]!.GetValue<string>());
    }
}
