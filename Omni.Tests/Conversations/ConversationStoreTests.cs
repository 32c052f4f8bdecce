using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Conversations;

/// <summary>The conversation store on real Table Storage: routing, idempotency, keys and close.</summary>
public sealed class ConversationStoreTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly OmniApp _app = new(azurite, new Dictionary<string, string?> { ["Omni:Conversations:InFlightTimeout"] = "00:00:01" });

    private IConversationStore Store => _app.Services.GetRequiredService<IConversationStore>();

    public ValueTask InitializeAsync()
    {
        _app.StartServer();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static (string Company, string Channel) NewScope() => (Ids.New("cmp"), Ids.New("chn"));

    private static InboundMessage Inbound(string company, string channel, string externalId, string contact = "cust-42", string? text = "hello", string? hash = "h1",
        IReadOnlyList<string>? keys = null, MailHeaders? mail = null, string? subject = null, bool reserved = false) =>
        new(company, channel, externalId, new ContactInfo(contact, "Maria"), text, Subject: subject, ConversationKeys: keys, Mail: mail, BodyHash: hash, Reserved: reserved);

    [Fact]
    public async Task AContactsMessagesShareTheOpenConversationAndTheFirstSubjectNamesIt()
    {
        var (company, channel) = NewScope();

        var first = await Store.AppendInboundAsync(Inbound(company, channel, "e1", subject: "Order 123"));
        var second = await Store.AppendInboundAsync(Inbound(company, channel, "e2", subject: "Re: something else"));
        var other = await Store.AppendInboundAsync(Inbound(company, channel, "e3", contact: "cust-43"));

        Assert.Equal(AppendOutcome.Created, first.Outcome);
        Assert.Equal(first.Message.ConversationId, second.Message.ConversationId);
        Assert.NotEqual(first.Message.ConversationId, other.Message.ConversationId);
        var conversation = await Store.GetConversationAsync(company, first.Message.ConversationId);
        Assert.Equal("Order 123", conversation!.Subject);
        Assert.Equal("cust-42", conversation.Contact.ExternalId);
        var history = await Store.ListMessagesAsync(company, first.Message.ConversationId, 50, null);
        Assert.Equal([first.Message.Id, second.Message.Id], history.Items.Select(m => m.Id));
    }

    [Fact]
    public async Task TheSameExternalIdWithTheSameBodyIsADuplicateAndWithAnotherBodyAMismatch()
    {
        var (company, channel) = NewScope();

        var first = await Store.AppendInboundAsync(Inbound(company, channel, "e1", hash: "same"));
        var again = await Store.AppendInboundAsync(Inbound(company, channel, "e1", hash: "same"));
        var changed = await Store.AppendInboundAsync(Inbound(company, channel, "e1", hash: "other", text: "changed"));
        var otherChannel = await Store.AppendInboundAsync(Inbound(company, Ids.New("chn"), "e1", hash: "other"));

        Assert.Equal(AppendOutcome.Duplicate, again.Outcome);
        Assert.Equal(first.Message.Id, again.Message.Id);
        Assert.Equal(AppendOutcome.Mismatch, changed.Outcome);
        Assert.Equal(first.Message.Id, changed.Message.Id);
        Assert.Equal(AppendOutcome.Created, otherChannel.Outcome);
        Assert.Single((await Store.ListMessagesAsync(company, first.Message.ConversationId, 50, null)).Items);
    }

    [Fact]
    public async Task ConcurrentDuplicatesBecomeOneMessage()
    {
        var (company, channel) = NewScope();

        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Task.Run(() => Store.AppendInboundAsync(Inbound(company, channel, "burst")))));

        Assert.Single(results, r => r.Outcome == AppendOutcome.Created);
        Assert.Single(results.Select(r => r.Message.Id).Distinct());
        var conversations = await Store.ListConversationsAsync(company, new ConversationFilter(channel), 50, null);
        Assert.Single(conversations.Items);
        Assert.Single((await Store.ListMessagesAsync(company, conversations.Items[0].Id, 50, null)).Items);
    }

    [Fact]
    public async Task ConcurrentFirstMessagesOfOneContactOpenOneConversation()
    {
        var (company, channel) = NewScope();

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Store.AppendInboundAsync(Inbound(company, channel, $"e{i}")))));

        Assert.All(results, r => Assert.Equal(AppendOutcome.Created, r.Outcome));
        Assert.Single(results.Select(r => r.Message.ConversationId).Distinct());
        Assert.Equal(16, (await Store.ListMessagesAsync(company, results[0].Message.ConversationId, 50, null)).Items.Count);
    }

    [Fact]
    public async Task AConversationKeyRoutesToItsConversationAndNamesANewOne()
    {
        var (company, channel) = NewScope();

        var ticket = await Store.AppendInboundAsync(Inbound(company, channel, "e1", contact: "a", keys: ["ticket-9"]));
        var sameTicketOtherContact = await Store.AppendInboundAsync(Inbound(company, channel, "e2", contact: "b", keys: ["ticket-9"]));

        Assert.Equal(ticket.Message.ConversationId, sameTicketOtherContact.Message.ConversationId);
        Assert.Equal("ticket-9", (await Store.GetConversationAsync(company, ticket.Message.ConversationId))!.ExternalId);
    }

    [Fact]
    public async Task AReplyNamingAnInboundOrASentMessageIdJoinsItsConversation()
    {
        var (company, channel) = NewScope();
        var first = await Store.AppendInboundAsync(Inbound(company, channel, "<m1@example.com>", contact: "maria@example.com",
            mail: new MailHeaders("<m1@example.com>", null, [], "maria@example.com", ["support@acme.com"], null)));
        var conversation = (await Store.GetConversationAsync(company, first.Message.ConversationId))!;

        var byInbound = await Store.AppendInboundAsync(Inbound(company, channel, "<m2@example.com>", contact: "colleague@example.com", keys: ["<m1@example.com>"]));
        var reply = await Store.AppendOutboundAsync(conversation, "answer", null, []);
        await Store.SetStatusAsync(company, conversation.Id, reply.Id, MessageStatus.Sent, null,
            new MailHeaders("<sent-1@acme.com>", "<m1@example.com>", ["<m1@example.com>"], "support@acme.com", ["maria@example.com"], null));
        var bySent = await Store.AppendInboundAsync(Inbound(company, channel, "<m3@example.com>", contact: "third@example.com", keys: ["<unknown@x>", "<sent-1@acme.com>"]));

        Assert.Equal(conversation.Id, byInbound.Message.ConversationId);
        Assert.Equal(conversation.Id, bySent.Message.ConversationId);
        var stored = await Store.GetMessageAsync(company, conversation.Id, reply.Id);
        Assert.Equal(MessageStatus.Sent, stored!.Status);
        Assert.Equal("<sent-1@acme.com>", stored.Mail!.MessageId);
    }

    [Fact]
    public async Task AfterCloseTheContactsNextMessageAndItsKeysOpenANewConversation()
    {
        var (company, channel) = NewScope();
        var first = await Store.AppendInboundAsync(Inbound(company, channel, "e1", keys: ["ticket-1"]));

        var closed = await Store.CloseAsync(company, first.Message.ConversationId);
        var again = await Store.CloseAsync(company, first.Message.ConversationId);
        var next = await Store.AppendInboundAsync(Inbound(company, channel, "e2"));
        var byKey = await Store.AppendInboundAsync(Inbound(company, channel, "e3", contact: "other", keys: ["ticket-1"]));

        Assert.Equal(ConversationStatus.Closed, closed!.Status);
        Assert.Equal(closed.ClosedAt, again!.ClosedAt);
        Assert.NotEqual(first.Message.ConversationId, next.Message.ConversationId);
        Assert.NotEqual(first.Message.ConversationId, byKey.Message.ConversationId);
        var open = await Store.ListConversationsAsync(company, new ConversationFilter(channel, Status: ConversationStatus.Open), 50, null);
        var closedList = await Store.ListConversationsAsync(company, new ConversationFilter(channel, "cust-42", ConversationStatus.Closed), 50, null);
        Assert.Equal(2, open.Items.Count);
        Assert.Equal([first.Message.ConversationId], closedList.Items.Select(c => c.Id));
        Assert.Null(await Store.CloseAsync(company, "cnv_missing"));
    }

    [Fact]
    public async Task AReservationMakesAConcurrentDuplicateWaitAndAStaleOneIsTakenOver()
    {
        var (company, channel) = NewScope();

        var first = await Store.ReserveAsync(company, channel, "att-1", "h");
        var concurrent = await Store.ReserveAsync(company, channel, "att-1", "h");
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var takeover = await Store.ReserveAsync(company, channel, "att-1", "h");
        var stored = await Store.AppendInboundAsync(Inbound(company, channel, "att-1", hash: "h", reserved: true));
        var late = await Store.AppendInboundAsync(Inbound(company, channel, "att-1", hash: "h", reserved: true));
        var after = await Store.ReserveAsync(company, channel, "att-1", "h");

        Assert.Equal(ReservationOutcome.Reserved, first.Outcome);
        Assert.Equal(ReservationOutcome.InFlight, concurrent.Outcome);
        Assert.Equal(ReservationOutcome.Reserved, takeover.Outcome);
        Assert.Equal(AppendOutcome.Created, stored.Outcome);
        Assert.Equal(AppendOutcome.Duplicate, late.Outcome);
        Assert.Equal(ReservationOutcome.Completed, after.Outcome);
        Assert.Equal(stored.Message.Id, after.Existing!.Message.Id);
    }

    [Fact]
    public async Task LongBodiesRoundTripAndPagesFollowEachOther()
    {
        var (company, channel) = NewScope();
        var text = string.Concat(Enumerable.Repeat("Olá, ação! ", 15_000));

        var first = await Store.AppendInboundAsync(Inbound(company, channel, "long", text: text));
        for (var i = 0; i < 4; i++)
        {
            await Store.AppendInboundAsync(Inbound(company, channel, $"n{i}"));
        }

        Assert.Equal(text, (await Store.GetMessageAsync(company, first.Message.ConversationId, first.Message.Id))!.Text);
        var ids = new List<string>();
        string? token = null;
        do
        {
            var page = await Store.ListMessagesAsync(company, first.Message.ConversationId, 2, token);
            ids.AddRange(page.Items.Select(m => m.Id));
            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.Equal(5, ids.Count);
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        var audit = await Store.ListChannelMessagesAsync(company, channel, MessageDirection.Inbound, first.Message.CreatedAt, 50, null);
        Assert.Equal(ids, audit.Items.Select(m => m.Id));
    }

    [Fact]
    public async Task AnAgentsMessageOnAConversationWhoseRowIsGoneIsAStorageConflictNotAnSdkException()
    {
        var (company, channel) = NewScope();
        var stored = await Store.AppendInboundAsync(Inbound(company, channel, "e1"));
        var conversation = (await Store.GetConversationAsync(company, stored.Message.ConversationId))!;
        var table = _app.Services.GetRequiredService<TableServiceClient>().GetTableClient(ConversationRows.Table);
        await table.DeleteEntityAsync(company, ConversationRows.Conversation(conversation.Id), ETag.All);

        await Assert.ThrowsAsync<StorageConflictException>(() => Store.AppendOutboundAsync(conversation, "hello", null, []));
    }

    [Fact]
    public async Task AContinuationTokenTheStoreNeverGaveIsAnInvalidContinuationToken()
    {
        var (company, channel) = NewScope();
        var stored = await Store.AppendInboundAsync(Inbound(company, channel, "e1"));

        await Assert.ThrowsAsync<InvalidContinuationTokenException>(() => Store.ListMessagesAsync(company, stored.Message.ConversationId, 2, "not*a*token"));
    }
}
