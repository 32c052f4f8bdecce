using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Meta;

namespace Omni.Functions.Http;

public sealed record TemplateSendRequest(string? To, TemplateToSend? Template);

public sealed record TemplateSendResponse(string MessageId,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? ConversationId);

public sealed record TemplateResponse(string Name, string Language, string? Category, string Status, JsonArray? Components);

/// <summary>WhatsApp templates (HSM) of a channel: the approved ones, and sending one to a number (§9).</summary>
internal static class TemplateEndpoints
{
    public static IEndpointRouteBuilder MapTemplateEndpoints(this IEndpointRouteBuilder routes)
    {
        var templates = routes.MapGroup("/api/companies/{companyId}/channels/{channelId}/templates").WithTags("Templates").RequireCompany();
        templates.MapGet("/", ListAsync).WithName("listTemplates").RequireScope(Scopes.ChannelsRead)
            .WithSummary("The WhatsApp Business Account's approved templates")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status502BadGateway);
        templates.MapPost("/send", SendAsync).WithName("sendTemplate").RequireScope(Scopes.ConversationsWrite)
            .WithSummary("Send a template to a number, outside the 24-hour window too; 202 once it is queued")
            .ProducesProblem(StatusCodes.Status409Conflict);
        return routes;
    }

    private static async Task<Results<Ok<ListResponse<TemplateResponse>>, NotFound, ProblemHttpResult>> ListAsync(
        string channelId, WhatsAppTemplates templates, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await templates.ListAsync(tenant.CompanyId, channelId, cancellationToken);
        return result.Outcome switch
        {
            TemplateOutcome.Done => TypedResults.Ok(new ListResponse<TemplateResponse>(
                result.Templates!.Select(t => new TemplateResponse(t.Name, t.Language, t.Category, t.Status, t.Components)).ToList())),
            TemplateOutcome.NotFound => TypedResults.NotFound(),
            TemplateOutcome.Conflict => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: result.Detail),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Meta refused the request", detail: result.Detail),
        };
    }

    private static async Task<Results<Accepted<TemplateSendResponse>, NotFound, ValidationProblem, ProblemHttpResult>> SendAsync(
        string channelId, TemplateSendRequest request, WhatsAppTemplates templates, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await templates.SendAsync(tenant.CompanyId, channelId, request.To, request.Template, cancellationToken);
        return result.Outcome switch
        {
            TemplateOutcome.Done => TypedResults.Accepted(
                result.OpenedConversation ? $"/api/companies/{tenant.CompanyId}/conversations/{result.Message!.ConversationId}/messages" : (string?)null,
                new TemplateSendResponse(result.Message!.Id, result.OpenedConversation ? result.Message.ConversationId : null)),
            TemplateOutcome.NotFound => TypedResults.NotFound(),
            TemplateOutcome.Conflict => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: result.Detail),
            _ => TypedResults.ValidationProblem(result.Errors!),
        };
    }
}
