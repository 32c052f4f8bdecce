using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Omni.Conversations;
using Omni.Email;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Email;

/// <summary>Counts the app's requests to the Conversations table.</summary>
public sealed class ConversationTableRequests : HttpPipelineSynchronousPolicy
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public override void OnSendingRequest(HttpMessage message)
    {
        if (message.Request.Uri.Path.Contains("/" + ConversationRows.Table, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _count);
        }
    }
}

/// <summary>A reply threads to the conversation's last inbound mail, read from the conversation row rather than its whole history.</summary>
public sealed class ReplyThreadingTests : IAsyncLifetime
{
    private readonly ConversationTableRequests _requests = new();
    private readonly OmniApp _app;
    private readonly AzuriteFixture _azurite;

    public ReplyThreadingTests(AzuriteFixture azurite)
    {
        _azurite = azurite;
        _app = new OmniApp(azurite, configureServices: services => services.AddSingleton(_ =>
        {
            var options = new TableClientOptions();
            options.AddPolicy(_requests, HttpPipelinePosition.PerCall);
            return new TableServiceClient(azurite.ConnectionString, options);
        }));
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private IConversationStore Store => _app.Services.GetRequiredService<IConversationStore>();

    /// <summary>A conversation of more inbound mails than one history page holds, each answering the one before.</summary>
    private async Task<(Conversation Conversation, Message Reply, List<string> Ids)> LongConversationAsync(int mails)
    {
        var tenant = await _app.TenantAsync();
        var channelId = "chn_" + Guid.NewGuid().ToString("N");
        var contact = new ContactInfo("cliente@example.com", "Cliente", "cliente@example.com");
        var ids = new List<string>();
        string? conversationId = null;
        for (var i = 0; i < mails; i++)
        {
            var id = $"mail-{i}-{Guid.NewGuid():N}@example.com";
            var appended = await Store.AppendInboundAsync(new InboundMessage(tenant.CompanyId, channelId, id, contact, $"mensagem {i}", Subject: "Pedido 4711",
                Mail: new MailHeaders(id, ids.LastOrDefault(), [.. ids.TakeLast(3)], contact.Email, ["atendimento@omni.test"], null), BodyHash: "h"));
            conversationId = appended.Message.ConversationId;
            ids.Add(id);
        }

        var conversation = (await Store.GetConversationAsync(tenant.CompanyId, conversationId!))!;
        return (conversation, await Store.AppendOutboundAsync(conversation, "Já enviamos.", null, []), ids);
    }

    private Task<MailReply> BuildAsync(Conversation conversation, Message reply) =>
        _app.Services.GetRequiredService<MailReplyBuilder>().BuildAsync(new MailIdentity("atendimento@omni.test", null, null), conversation, reply);

    [Fact]
    public async Task AReplyOnALongConversationReadsOneRowAndNoHistory()
    {
        var (conversation, reply, ids) = await LongConversationAsync(205);
        var before = _requests.Count;

        var built = await BuildAsync(conversation, reply);

        Assert.Equal(1, _requests.Count - before);
        Assert.Equal(ids[^1], built.Message.InReplyTo);
        Assert.Equal([.. ids.TakeLast(4)], built.Message.References);
    }

    [Fact]
    public async Task AConversationStoredBeforeThreadsWereKeptIsLookedUpOnceThenReadFromItsRow()
    {
        var (conversation, reply, ids) = await LongConversationAsync(3);
        var table = new TableServiceClient(_azurite.ConnectionString).GetTableClient(ConversationRows.Table);
        var row = (await table.GetEntityAsync<TableEntity>(conversation.CompanyId, ConversationRows.Conversation(conversation.Id))).Value;
        foreach (var column in row.Keys.Where(k => k.StartsWith("Mail", StringComparison.Ordinal)).ToList())
        {
            row.Remove(column);
        }

        await table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace);

        var first = await BuildAsync(conversation, reply);
        var before = _requests.Count;
        var second = await BuildAsync(conversation, reply);

        Assert.Equal(ids[^1], first.Message.InReplyTo);
        Assert.Equal([.. ids], first.Message.References);
        Assert.Equal(1, _requests.Count - before);
        Assert.Equal(first.Message.References, second.Message.References);
    }
}
