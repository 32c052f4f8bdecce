using System.Net;
using System.Text.Json.Nodes;
using Omni.Conversations;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MercadoLivre;

/// <summary>Pre-sale questions: from Mercado Livre's notification to the agent's answer, once each.</summary>
public sealed class MercadoLivreQuestionTests(AzuriteFixture azurite, MercadoLivreFixture ml) : IClassFixture<MercadoLivreFixture>, IAsyncLifetime
{
    private readonly OmniApp _app = ml.CreateApp(azurite);

    private FakeMercadoLivre Fake => ml.Fake;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Fact]
    public async Task AQuestionFromANotificationBecomesAMessageOfItsItemAndBuyerAndTheAgentsReplyIsItsAnswer()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, "Tem voltagem 220V?", itemId: "MLB3000000001", buyerId: "777000111");

        var response = await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var inbound = await _app.WaitForInboundAsync(channel, $"question:{question.Id}");
        Assert.Equal("Tem voltagem 220V?", inbound.Text);
        Assert.Equal("MLB3000000001", inbound.Metadata!["itemId"]);
        Assert.Equal("Furadeira de impacto 650W", inbound.Metadata["itemTitle"]);
        Assert.Equal("https://produto.mercadolivre.com.br/MLB3000000001", inbound.Metadata["itemPermalink"]);
        Assert.Contains(Fake.Requests, r => r.Path == $"/questions/{question.Id}" && r.Query.Contains("api_version=4", StringComparison.Ordinal));

        var accepted = await Arrange.ReadAsync(await _app.ReplyAsync(channel, inbound.ConversationId, "Sim, 220V."), HttpStatusCode.Accepted);
        var sent = await _app.WaitForStatusAsync(channel, inbound.ConversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        Assert.Equal(("ANSWERED", "Sim, 220V."), (question.Status, question.Answer));
        Assert.Equal(question.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), sent.ProviderMessageId);
        var posted = Assert.Single(Fake.Requests, r => r.Method == "POST" && r.Path == "/answers" && JsonNode.Parse(r.Body)!["question_id"]!.GetValue<long>() == question.Id);
        Assert.Equal(new JsonObject { ["question_id"] = question.Id, ["text"] = "Sim, 220V." }.ToJsonString(), JsonNode.Parse(posted.Body)!.ToJsonString());

        // No token, secret, key or message text in any log line.
        var secrets = new[] { channel.NotificationKey.Split('.')[1], seller.RefreshToken, posted.Token!, "ml-client-secret", "Tem voltagem 220V?", "Sim, 220V." };
        Assert.DoesNotContain(_app.Logs.Lines, l => secrets.Any(s => l.Contains(s, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TwoItemsAskedAboutByOneBuyerAreTwoConversationsAndEachQuestionOfOneItemJoinsItsConversation()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var first = Fake.AddQuestion(seller, "Tem azul?", itemId: "MLB100", buyerId: "888");
        var second = Fake.AddQuestion(seller, "E verde?", itemId: "MLB100", buyerId: "888");
        var other = Fake.AddQuestion(seller, "Tem garantia?", itemId: "MLB200", buyerId: "888");

        foreach (var q in new[] { first, second, other })
        {
            Assert.Equal(HttpStatusCode.OK, (await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{q.Id}", seller.Id))).StatusCode);
            await _app.WaitForInboundAsync(channel, $"question:{q.Id}");
        }

        var messages = await _app.InboundAsync(channel);
        var byQuestion = messages.ToDictionary(m => m.ExternalId!, m => m.ConversationId);
        Assert.Equal(byQuestion[$"question:{first.Id}"], byQuestion[$"question:{second.Id}"]);
        Assert.NotEqual(byQuestion[$"question:{first.Id}"], byQuestion[$"question:{other.Id}"]);

        // Two replies on the item's conversation answer its two questions, oldest first.
        var conversation = byQuestion[$"question:{first.Id}"];
        foreach (var text in new[] { "Tem azul sim.", "Verde não." })
        {
            var accepted = await Arrange.ReadAsync(await _app.ReplyAsync(channel, conversation, text), HttpStatusCode.Accepted);
            await _app.WaitForStatusAsync(channel, conversation, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);
        }

        Assert.Equal(("Tem azul sim.", "Verde não."), (first.Answer, second.Answer));
        Assert.Equal("UNANSWERED", other.Status);
    }

    [Fact]
    public async Task ANotificationRetriedAndDuplicatedIsProcessedOnce()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, "Aceita troca?");
        var id = Guid.NewGuid().ToString();

        var answers = await Task.WhenAll(Enumerable.Range(1, 4).Select(attempt =>
            _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id, id, attempt))));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        await _app.WaitForInboundAsync(channel, $"question:{question.Id}");

        // A later notification flushes the queue behind the duplicates: by the time it is stored, they were handled.
        var later = Fake.AddQuestion(seller, "Entrega amanhã?");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{later.Id}", seller.Id));
        await _app.WaitForInboundAsync(channel, $"question:{later.Id}");

        Assert.Single(await _app.InboundAsync(channel), m => m.ExternalId == $"question:{question.Id}");
        Assert.Single(Fake.Requests, r => r.Path == $"/questions/{question.Id}");
    }

    [Fact]
    public async Task AnsweredQuestionsAreNotAskedOfTheAgents()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var answered = Fake.AddQuestion(seller, "Já respondida?");
        answered.Status = "ANSWERED";
        var open = Fake.AddQuestion(seller, "Aberta?");

        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{answered.Id}", seller.Id));
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{open.Id}", seller.Id));
        await _app.WaitForInboundAsync(channel, $"question:{open.Id}");
        await Eventually.HoldsAsync(() => Task.FromResult(Fake.Requests.Any(r => r.Path == $"/questions/{answered.Id}")), "the answered question is read");

        Assert.DoesNotContain(await _app.InboundAsync(channel), m => m.ExternalId == $"question:{answered.Id}");
    }

    [Fact]
    public async Task AnAnswerOver2000CharactersIsRefusedWith422NamingTheLimitAndNothingIsSent()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, "Detalhes?");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));
        var inbound = await _app.WaitForInboundAsync(channel, $"question:{question.Id}");

        var problem = await Arrange.ReadAsync(await _app.ReplyAsync(channel, inbound.ConversationId, new string('a', 2001)), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("2,000 characters", problem["detail"]!.GetValue<string>());

        var exact = await Arrange.ReadAsync(await _app.ReplyAsync(channel, inbound.ConversationId, new string('b', 2000)), HttpStatusCode.Accepted);
        await _app.WaitForStatusAsync(channel, inbound.ConversationId, exact["messageId"]!.GetValue<string>(), MessageStatus.Sent);
        Assert.Equal(2000, question.Answer!.Length);
    }

    [Fact]
    public async Task AThrottledQuestionReadIsRetriedLaterAndThenStored()
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, "Está em estoque?");
        Fake.FailNext(r => r.Path == $"/questions/{question.Id}", 429, new JsonObject { ["message"] = "too many requests", ["error"] = "too_many_requests", ["status"] = 429 }, retryAfterSeconds: 0);
        Fake.FailNext(r => r.Path == $"/questions/{question.Id}", 429, new JsonObject { ["message"] = "too many requests", ["error"] = "too_many_requests", ["status"] = 429 });

        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));
        await _app.WaitForInboundAsync(channel, $"question:{question.Id}");

        Assert.Equal([429, 429, 200], Fake.Requests.Where(r => r.Path == $"/questions/{question.Id}").Select(r => r.Status));
    }

    [Fact]
    public async Task AQuestionAnsweredOnMercadoLivreShowsItsAnswerInTheConversationOnceEvenWhenNotifiedTwiceAndTakesNoReply()
    {
        var (seller, channel, question, asked) = await AskedAsync("Serve no modelo X?", "MLB700", "700700");

        // The seller answers on Mercado Livre's site; its notification comes twice (two events, as a retry and missed_feeds can).
        (question.Status, question.Answer) = ("ANSWERED", "Serve sim, respondido pelo site.");
        foreach (var _ in new[] { 1, 2 })
        {
            Assert.Equal(HttpStatusCode.OK, (await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id))).StatusCode);
        }

        var note = await _app.WaitForInboundAsync(channel, $"question:{question.Id}:ANSWERED");
        await Eventually.HoldsAsync(() => Task.FromResult(Fake.Requests.Count(r => r.Path == $"/questions/{question.Id}") == 3), "both notifications are read");
        Assert.Equal(asked.ConversationId, note.ConversationId);
        Assert.Equal("Serve sim, respondido pelo site.", note.Text);
        Assert.Equal(("question_status", "ANSWERED"), (note.Metadata!["type"], note.Metadata["status"]));
        Assert.Single(await _app.InboundAsync(channel), m => m.ExternalId!.StartsWith($"question:{question.Id}:", StringComparison.Ordinal));

        // An agent who replies anyway is told why nothing went out; Mercado Livre is not asked to answer twice.
        var accepted = await Arrange.ReadAsync(await _app.ReplyAsync(channel, asked.ConversationId, "Serve."), HttpStatusCode.Accepted);
        var failed = await _app.WaitForStatusAsync(channel, asked.ConversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Failed);
        Assert.Contains("answered on Mercado Livre, outside Omni", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Fake.Requests, r => r.Method == "POST" && r.Path == "/answers" && r.Body.Contains(question.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AQuestionDeletedOnMercadoLivreIsNotedAndAReplyToItFailsVisiblyWithoutAnAnswer()
    {
        var (seller, channel, question, asked) = await AskedAsync("Ainda tem?", "MLB701", "700701");

        question.Status = "DELETED";
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));
        var note = await _app.WaitForInboundAsync(channel, $"question:{question.Id}:DELETED");

        Assert.Equal(asked.ConversationId, note.ConversationId);
        Assert.Contains("deleted on Mercado Livre (DELETED)", note.Text, StringComparison.Ordinal);
        var accepted = await Arrange.ReadAsync(await _app.ReplyAsync(channel, asked.ConversationId, "Tem sim."), HttpStatusCode.Accepted);
        var failed = await _app.WaitForStatusAsync(channel, asked.ConversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Failed);
        Assert.Contains($"question {question.Id} was deleted on Mercado Livre (DELETED)", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Fake.Requests, r => r.Method == "POST" && r.Path == "/answers" && r.Body.Contains(question.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.Null(question.Answer);
    }

    [Fact]
    public async Task TheAnswerAnAgentSentThroughOmniIsNotNotedAsAnsweredElsewhere()
    {
        var (seller, channel, question, asked) = await AskedAsync("Tem nota fiscal?", "MLB702", "700702");
        var accepted = await Arrange.ReadAsync(await _app.ReplyAsync(channel, asked.ConversationId, "Tem sim."), HttpStatusCode.Accepted);
        await _app.WaitForStatusAsync(channel, asked.ConversationId, accepted["messageId"]!.GetValue<string>(), MessageStatus.Sent);

        // Mercado Livre tells of the answer Omni gave: no news for the agents.
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));
        await Eventually.HoldsAsync(() => Task.FromResult(Fake.Requests.Count(r => r.Path == $"/questions/{question.Id}") == 2), "the notification is read");
        var later = Fake.AddQuestion(seller, "Outra?", itemId: "MLB702", buyerId: "700702");
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{later.Id}", seller.Id));
        await _app.WaitForInboundAsync(channel, $"question:{later.Id}");

        Assert.DoesNotContain(await _app.InboundAsync(channel), m => m.ExternalId == $"question:{question.Id}:ANSWERED");
    }

    /// <summary>A new seller's channel with one question of the buyer about the item, notified and stored.</summary>
    private async Task<(FakeSeller Seller, TestMercadoLivreChannel Channel, FakeQuestion Question, Message Asked)> AskedAsync(string text, string itemId, string buyerId)
    {
        var seller = Fake.AddSeller();
        var channel = await _app.MercadoLivreChannelAsync(seller);
        var question = Fake.AddQuestion(seller, text, itemId: itemId, buyerId: buyerId);
        await _app.NotifyAsync(channel.NotificationKey, MercadoLivreArrange.Notification("questions", $"/questions/{question.Id}", seller.Id));
        return (seller, channel, question, await _app.WaitForInboundAsync(channel, $"question:{question.Id}"));
    }
}
