using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Omni.Security;

namespace Omni.Benchmarks;

/// <summary>One storage call of an accepted receive_hook message, as the counter labels it.</summary>
public sealed record FairStep(string Kind, string Table)
{
    public const string PointRead = "point read";
    public const string Batch = "entity-group transaction";
    public const string Write = "single-entity write";
}

/// <summary>
/// The receive_hook fair baseline: a minimal ASP.NET Core endpoint on its own real Kestrel that authenticates the
/// same bearer key by its hash, reads the JSON body, makes the storage calls the product made for an accepted
/// message (<see cref="PlanFromLabels"/>, derived at run time from the product's own counted requests, so a product
/// that makes fewer calls gets a baseline that makes fewer too), and answers 202 with the ids. No validation,
/// idempotency rules, problem details, telemetry or options: what is left is the floor for the same storage work.
/// </summary>
public sealed class MinimalReceiveHook : IAsyncDisposable
{
    private const string Text = "Meu pedido não chegou, podem verificar? Order 4711";
    private readonly WebApplication _app;
    private readonly IReadOnlyList<FairStep> _plan;
    private readonly TableServiceClient _tables;
    private readonly string _companyId;
    private readonly int _contacts;

    private MinimalReceiveHook(WebApplication app, IReadOnlyList<FairStep> plan, TableServiceClient tables, string companyId, int contacts, int port)
    {
        _app = app;
        _plan = plan;
        _tables = tables;
        _companyId = companyId;
        _contacts = contacts;
        Url = new Uri($"http://127.0.0.1:{port}/api/receive_hook");
    }

    public Uri Url { get; }

    public IReadOnlyList<FairStep> Plan => _plan;

    /// <summary>
    /// The calls per accepted message, from the product's labelled counts over <paramref name="messages"/> messages:
    /// point reads first (key, then routing, as the product resolves them), then writes, then the transaction.
    /// A label it cannot reproduce stops the benchmark rather than giving a baseline that does less.
    /// </summary>
    public static IReadOnlyList<FairStep> PlanFromLabels(IReadOnlyDictionary<string, long> counts, int messages)
    {
        var steps = new List<FairStep>();
        foreach (var (label, count) in counts)
        {
            var perMessage = (int)Math.Round(count / (double)messages);
            var parts = label.Split(' ');
            FairStep step = label switch
            {
                "table POST $batch (entity-group transaction)" => new(FairStep.Batch, "Conversations"),
                _ when parts is ["table", "GET", _, "point", ..] => new(FairStep.PointRead, parts[2]),
                _ when parts is ["table", "PUT" or "PATCH" or "MERGE" or "POST", _, ..] => new(FairStep.Write, parts[2]),
                _ => perMessage == 0 ? new("none", "") : throw new InvalidOperationException($"The fair baseline cannot reproduce '{label}' ({count} over {messages} messages)."),
            };
            steps.AddRange(Enumerable.Repeat(step, perMessage));
        }

        int Order(FairStep s) => s.Kind switch
        {
            FairStep.PointRead => s.Table == "Conversations" ? 1 : 0,
            FairStep.Write => 2,
            _ => 3,
        };
        return [.. steps.Where(s => s.Kind != "none").OrderBy(Order)];
    }

    public static async Task<MinimalReceiveHook> StartAsync(string connectionString, IReadOnlyList<FairStep> plan, string apiKey, string companyId, int contacts, int port)
    {
        var tables = new TableServiceClient(connectionString);
        var keyHash = TokenHash.Of(apiKey);
        foreach (var table in plan.Select(s => s.Table).Distinct())
        {
            var client = tables.GetTableClient("Fair" + table);
            await client.CreateIfNotExistsAsync();
            if (table == "Conversations")
            {
                for (var c = 0; c < contacts; c++)
                {
                    await client.UpsertEntityAsync(new TableEntity(companyId, Route(c)) { ["ConversationId"] = $"cnv_{c}" });
                    await client.UpsertEntityAsync(new TableEntity(companyId, $"c|cnv_{c}") { ["Status"] = "Open" });
                }
            }
            else
            {
                await client.UpsertEntityAsync(new TableEntity(keyHash, "") { ["Kind"] = "Channel", ["CompanyId"] = companyId, ["ChannelId"] = "chn_1", ["KeyId"] = "ck_1", ["Name"] = "erp" });
            }
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var hook = new MinimalReceiveHook(app, plan, tables, companyId, contacts, port);
        app.MapPost("/api/receive_hook", hook.ReceiveAsync);
        await app.StartAsync();
        return hook;
    }

    private static string Route(int contact) => $"o|chn_1|cust-{contact}";

    private sealed record Body(string ExternalId, Contact Contact, string? Text, JsonObject? Metadata);

    private sealed record Contact(string ExternalId, string? Name);

    private async Task ReceiveAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 401;
            return;
        }

        var keyHash = TokenHash.Of(authorization["Bearer ".Length..]);
        var body = await JsonSerializer.DeserializeAsync<Body>(context.Request.Body, JsonSerializerOptions.Web, cancellationToken)
            ?? throw new InvalidOperationException("No body.");
        var contact = body.Contact.ExternalId;
        var conversations = _tables.GetTableClient("FairConversations");
        Response<TableEntity>? route = null;
        foreach (var step in _plan)
        {
            switch (step.Kind)
            {
                case FairStep.PointRead when step.Table == "Conversations":
                    route = await conversations.GetEntityAsync<TableEntity>(_companyId, $"o|chn_1|{contact}", cancellationToken: cancellationToken);
                    break;
                case FairStep.PointRead:
                    var key = await _tables.GetTableClient("Fair" + step.Table).GetEntityIfExistsAsync<TableEntity>(keyHash, "", cancellationToken: cancellationToken);
                    if (!key.HasValue)
                    {
                        context.Response.StatusCode = 401;
                        return;
                    }

                    break;
                case FairStep.Write:
                    await _tables.GetTableClient("Fair" + step.Table).UpsertEntityAsync(new TableEntity(_companyId, $"w|{contact}") { ["At"] = DateTimeOffset.UtcNow }, TableUpdateMode.Merge, cancellationToken);
                    break;
                case FairStep.Batch:
                    route = await BatchAsync(conversations, route, contact, body, cancellationToken);
                    break;
            }
        }

        context.Response.StatusCode = 202;
        await context.Response.WriteAsJsonAsync(new { messageId = $"msg_{Guid.CreateVersion7():N}", conversationId = route?.Value["ConversationId"], status = "accepted" }, cancellationToken);
    }

    /// <summary>The product's accepted-message transaction: idempotency row, message twice (conversation and channel order), route and conversation touched.</summary>
    private async Task<Response<TableEntity>?> BatchAsync(TableClient table, Response<TableEntity>? route, string contact, Body body, CancellationToken cancellationToken)
    {
        route ??= await table.GetEntityAsync<TableEntity>(_companyId, $"o|chn_1|{contact}", cancellationToken: cancellationToken);
        var conversationId = (string)route.Value["ConversationId"];
        var messageId = $"msg_{Guid.CreateVersion7():N}";
        var now = DateTimeOffset.UtcNow;
        var metadata = JsonSerializer.SerializeToUtf8Bytes(body.Metadata);
        TableEntity Message(string rowKey) => new(_companyId, rowKey)
        {
            ["MessageId"] = messageId, ["ConversationId"] = conversationId, ["ChannelId"] = "chn_1", ["Direction"] = "Inbound",
            ["ExternalId"] = body.ExternalId, ["Status"] = "Accepted", ["CreatedAt"] = now, ["Text"] = System.Text.Encoding.UTF8.GetBytes(body.Text ?? Text),
            ["Attachments"] = "[]"u8.ToArray(), ["Metadata"] = metadata,
        };
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await table.SubmitTransactionAsync(
                [
                    new(TableTransactionActionType.Add, new TableEntity(_companyId, $"i|chn_1|{body.ExternalId}|{Guid.NewGuid():N}") { ["MessageId"] = messageId, ["BodyHash"] = "h" }),
                    new(TableTransactionActionType.Add, Message($"m|{conversationId}|{messageId}")),
                    new(TableTransactionActionType.Add, Message($"a|chn_1|{messageId}")),
                    new(TableTransactionActionType.UpdateMerge, new TableEntity(_companyId, route.Value.RowKey) { ["LastMessageAt"] = now }, route.Value.ETag),
                    new(TableTransactionActionType.UpdateMerge, new TableEntity(_companyId, $"c|{conversationId}") { ["UpdatedAt"] = now }, ETag.All),
                ], cancellationToken);
                return route;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 412 && attempt < 8)
            {
                // Another message of the same contact moved the route on: read it again, as the product does.
                route = await table.GetEntityAsync<TableEntity>(_companyId, $"o|chn_1|{contact}", cancellationToken: cancellationToken);
            }
        }
    }

    public int Contacts => _contacts;

    public override string ToString() => string.Join(", ", _plan.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Kind} ({s.Table})")));

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
