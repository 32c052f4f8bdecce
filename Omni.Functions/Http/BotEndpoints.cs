using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Bots;
using Omni.Credentials;
using Omni.Functions.Hosting;

namespace Omni.Functions.Http;

public sealed record BotRequest(string? Name, string? WebhookUrl);

/// <summary>A bot as listed and read: never its secret or key, only the key's prefix to recognise it by.</summary>
public sealed record BotResponse(string Id, string Name, string WebhookUrl, string KeyPrefix, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>The create response: the signing secret and the key, shown only here.</summary>
public sealed record BotCreatedResponse(string Id, string Name, string WebhookUrl, string WebhookSecret, string Key, string KeyPrefix, DateTimeOffset CreatedAt);

public sealed record HandoffRequest(string? ServiceId);

/// <summary>Bots and the bot API (contract section 10).</summary>
internal static class BotEndpoints
{
    public static IEndpointRouteBuilder MapBotEndpoints(this IEndpointRouteBuilder routes)
    {
        var bots = routes.MapGroup("/api/companies/{companyId}/bots").WithTags("Bots").RequireCompany();
        bots.MapPost("", CreateAsync).WithName("createBot").RequireScope(Scopes.ChannelsWrite).ProducesValidationProblem()
            .WithSummary("Register a bot; its webhook signing secret and its key are shown only in this response");
        bots.MapGet("", ListAsync).WithName("listBots").RequireScope(Scopes.ChannelsRead).WithSummary("List the company's bots (never their secrets or keys)");
        bots.MapGet("/{botId}", GetAsync).WithName("getBot").RequireScope(Scopes.ChannelsRead).WithSummary("Get a bot");
        bots.MapPut("/{botId}", UpdateAsync).WithName("updateBot").RequireScope(Scopes.ChannelsWrite).ProducesValidationProblem()
            .WithSummary("Rename a bot or point it at another webhook URL (its secret and key stay)");
        bots.MapDelete("/{botId}", DeleteAsync).WithName("deleteBot").RequireScope(Scopes.ChannelsWrite).WithSummary("Delete a bot; its key fails at once");

        var api = routes.MapGroup("/api/bots/conversations/{conversationId}").WithTags("Bot API").RequireBotKey();
        api.MapPost("/messages", SendAsync).WithName("sendBotMessage")
            .WithSummary("Reply to the contact of a conversation this bot handles, by the channel's transport; 202 once it is queued (bot key)")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/handoff", HandOffAsync).WithName("handOffConversation").ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Hand a conversation this bot handles to a service's agents (bot key)");
        return routes;
    }

    private static async Task<Results<Created<BotCreatedResponse>, ValidationProblem>> CreateAsync(
        BotRequest request, BotRegistry registry, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await registry.CreateAsync(tenant.CompanyId, request.Name, request.WebhookUrl, tenant.Actor, cancellationToken);
        if (result.Value is not { } created)
        {
            return TypedResults.ValidationProblem(result.Errors!);
        }

        var bot = created.Bot;
        return TypedResults.Created($"/api/companies/{tenant.CompanyId}/bots/{bot.Id}",
            new BotCreatedResponse(bot.Id, bot.Name, bot.WebhookUrl, created.WebhookSecret, created.Key, bot.KeyPrefix, bot.CreatedAt));
    }

    private static async Task<Ok<ListResponse<BotResponse>>> ListAsync(BotRegistry registry, TenantContext tenant, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ListResponse<BotResponse>((await registry.ListAsync(tenant.CompanyId, cancellationToken)).Select(ToResponse).ToList()));

    private static async Task<Results<Ok<BotResponse>, NotFound>> GetAsync(string botId, BotRegistry registry, TenantContext tenant, CancellationToken cancellationToken) =>
        await registry.GetAsync(tenant.CompanyId, botId, cancellationToken) is { } bot ? TypedResults.Ok(ToResponse(bot)) : TypedResults.NotFound();

    private static async Task<Results<Ok<BotResponse>, NotFound, ValidationProblem>> UpdateAsync(
        string botId, BotRequest request, BotRegistry registry, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await registry.UpdateAsync(tenant.CompanyId, botId, request.Name, request.WebhookUrl, tenant.Actor, cancellationToken);
        return result switch
        {
            { Value: { } bot } => TypedResults.Ok(ToResponse(bot)),
            { Errors: { } errors } => TypedResults.ValidationProblem(errors),
            _ => TypedResults.NotFound(),
        };
    }

    private static async Task<Results<NoContent, NotFound>> DeleteAsync(string botId, BotRegistry registry, TenantContext tenant, CancellationToken cancellationToken) =>
        await registry.DeleteAsync(tenant.CompanyId, botId, tenant.Actor, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    private static async Task<Results<Accepted<SendMessageResponse>, NotFound, ValidationProblem, ProblemHttpResult>> SendAsync(
        string conversationId, SendMessageRequest request, BotConversations conversations, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await conversations.SendAsync(tenant.CompanyId, tenant.BotId!, conversationId, request.Text, AttachmentProblems.Uploads(request.Attachments), cancellationToken);
        return ConversationEndpoints.ToSendResponse(result, $"/api/bots/conversations/{conversationId}/messages");
    }

    private static async Task<Results<Ok<ConversationResponse>, NotFound, ValidationProblem, ProblemHttpResult>> HandOffAsync(
        string conversationId, HandoffRequest request, BotConversations conversations, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await conversations.HandOffAsync(tenant.CompanyId, tenant.BotId!, conversationId, request.ServiceId, cancellationToken);
        return result.Outcome switch
        {
            HandoffOutcome.HandedOff => TypedResults.Ok(ConversationEndpoints.ToResponse(result.Conversation!)),
            HandoffOutcome.NoSuchService => TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["serviceId"] = [string.IsNullOrWhiteSpace(request.ServiceId) ? "Required." : "No such service in this company."],
            }),
            HandoffOutcome.Conflict => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conversation changed",
                detail: result.Conversation?.Status == Conversations.ConversationStatus.Closed
                    ? "The conversation is closed."
                    : "The conversation was handed on meanwhile; read it again."),
            _ => TypedResults.NotFound(),
        };
    }

    private static BotResponse ToResponse(Bot b) => new(b.Id, b.Name, b.WebhookUrl, b.KeyPrefix, b.CreatedAt, b.UpdatedAt);
}
