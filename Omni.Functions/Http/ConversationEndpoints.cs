using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Channels;
using Omni.Conversations;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Storage;
using Omni.Validation;

namespace Omni.Functions.Http;

public sealed record ContactResponse(string ExternalId, string? Name, string? Email, string? Phone);

public sealed record ConversationResponse(
    string Id,
    string ChannelId,
    ContactResponse Contact,
    string? ExternalId,
    string? Subject,
    ConversationStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ClosedAt,
    string? CloseReason = null,
    string Handler = "agents",
    string? BotId = null,
    string? ServiceId = null);

public sealed record AttachmentResponse(string FileName, string ContentType, long Size);

public sealed record MessageResponse(
    string Id,
    string ConversationId,
    string ChannelId,
    MessageDirection Direction,
    string? ExternalId,
    string? Text,
    string? Html,
    string? Subject,
    IReadOnlyList<AttachmentResponse> Attachments,
    IReadOnlyDictionary<string, string>? Metadata,
    MessageStatus Status,
    string? Error,
    DateTimeOffset CreatedAt,
    string? DeliveryStatus = null,
    DeliveryErrorResponse? DeliveryError = null);

/// <summary>The provider's reason for a <c>failed</c> delivery (Meta's error code and title).</summary>
public sealed record DeliveryErrorResponse(int? Code, string? Title);

/// <summary>An attachment as JSON carries it: the bytes base64-encoded.</summary>
public sealed record AttachmentRequest(string? FileName, string? ContentType, string? ContentBase64);

public sealed record SendMessageRequest(string? Text, IReadOnlyList<AttachmentRequest?>? Attachments);

public sealed record SendMessageResponse(string MessageId, MessageStatus Status);

internal static class ConversationEndpoints
{
    public static IEndpointRouteBuilder MapConversationEndpoints(this IEndpointRouteBuilder routes)
    {
        var conversations = routes.MapGroup("/api/companies/{companyId}/conversations").WithTags("Conversations").RequireCompany();
        conversations.MapGet("/", ListAsync).WithName("listConversations").RequireScope(Scopes.ConversationsRead)
            .WithSummary("List conversations, newest first, by channel, contact and status");
        conversations.MapGet("/{conversationId}", GetAsync).WithName("getConversation").RequireScope(Scopes.ConversationsRead).WithSummary("Get a conversation");
        conversations.MapGet("/{conversationId}/messages", HistoryAsync).WithName("listMessages").RequireScope(Scopes.ConversationsRead)
            .WithSummary("A conversation's history, both directions, oldest first");
        conversations.MapPost("/{conversationId}/messages", SendAsync).WithName("sendMessage").RequireScope(Scopes.ConversationsWrite)
            .WithSummary("Send a message to the contact by the channel's transport; 202 once it is queued")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        conversations.MapPost("/{conversationId}/close", CloseAsync).WithName("closeConversation").RequireScope(Scopes.ConversationsWrite)
            .WithSummary("Close a conversation; the contact's next message opens a new one");

        var audit = routes.MapGroup("/api/audit/messages").WithTags("Audit").RequireChannelKey(Scopes.AuditRead).AcceptApiKeyHeader();
        audit.MapGet("", AuditMessagesAsync).WithName("listAuditMessages").ProducesValidationProblem()
            .WithSummary("Messages received and sent on a channel, oldest first (channel API key, or a management key with audit:read or the platform admin, with ?channelId=)");
        return routes;
    }

    /// <summary>The SendOutbound queue function and the OutboxSweep timer, run by the Functions host or the local trigger runner.</summary>
    public static IServiceCollection AddConversationFunctions(this IServiceCollection services) => services
        .AddQueueFunction<OutboundSender>(FunctionNames.SendOutbound, (sender, message, cancellationToken) => sender.HandleAsync(message.Body, cancellationToken))
        .AddTimerFunction<OutboxSweep>(FunctionNames.OutboxSweep, (sweep, _, cancellationToken) => sweep.SweepAsync(cancellationToken));

    private static async Task<Results<Ok<ListResponse<ConversationResponse>>, ValidationProblem>> ListAsync(
        string? channelId, string? contactExternalId, string? status, int? limit, string? continuationToken,
        IConversationStore store, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        ConversationStatus? parsed = null;
        if (status is not null)
        {
            if (Enum.TryParse<ConversationStatus>(status, ignoreCase: true, out var s) && !int.TryParse(status, out _))
            {
                parsed = s;
            }
            else
            {
                errors.Add("status", "Must be open or closed.");
            }
        }

        if (channelId is not null && !Ids.LooksValid(channelId))
        {
            errors.Add("channelId", "Not a channel id.");
        }

        if (contactExternalId is { Length: > 200 })
        {
            errors.Add("contactExternalId", "At most 200 characters.");
        }

        CheckLimit(limit, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var page = await store.ListConversationsAsync(tenant.CompanyId, new ConversationFilter(channelId, contactExternalId, parsed),
            limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return TypedResults.Ok(new ListResponse<ConversationResponse>(page.Items.Select(ToResponse).ToList(), page.ContinuationToken));
    }

    private static async Task<Results<Ok<ConversationResponse>, NotFound>> GetAsync(
        string conversationId, IConversationStore store, TenantContext tenant, CancellationToken cancellationToken) =>
        await store.GetConversationAsync(tenant.CompanyId, conversationId, cancellationToken) is { } conversation
            ? TypedResults.Ok(ToResponse(conversation))
            : TypedResults.NotFound();

    private static async Task<Results<Ok<ListResponse<MessageResponse>>, NotFound, ValidationProblem>> HistoryAsync(
        string conversationId, int? limit, string? continuationToken, IConversationStore store, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        CheckLimit(limit, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        if (await store.GetConversationAsync(tenant.CompanyId, conversationId, cancellationToken) is null)
        {
            return TypedResults.NotFound();
        }

        var page = await store.ListMessagesAsync(tenant.CompanyId, conversationId, limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return TypedResults.Ok(new ListResponse<MessageResponse>(page.Items.Select(ToResponse).ToList(), page.ContinuationToken));
    }

    private static async Task<Results<Accepted<SendMessageResponse>, NotFound, ValidationProblem, ProblemHttpResult>> SendAsync(
        string conversationId, SendMessageRequest request, AgentMessages agent, TenantContext tenant, CancellationToken cancellationToken)
    {
        var result = await agent.SendAsync(tenant.CompanyId, conversationId, request.Text, AttachmentProblems.Uploads(request.Attachments), cancellationToken);
        return ToSendResponse(result, $"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages");
    }

    /// <summary>What a message sent on a conversation came to, for an agent's send and a bot's alike.</summary>
    internal static Results<Accepted<SendMessageResponse>, NotFound, ValidationProblem, ProblemHttpResult> ToSendResponse(SendMessageResult result, string location) =>
        result.Outcome switch
        {
            // The contract's 202 says "queued" (accepted for sending) whatever the transport: an omni channel's message,
            // whose webhook delivery is stored before the message, already shows "sent" in the history.
            SendMessageOutcome.Queued => TypedResults.Accepted(location, new SendMessageResponse(result.Message!.Id, MessageStatus.Queued)),
            SendMessageOutcome.NotFound => TypedResults.NotFound(),
            SendMessageOutcome.TooLarge => AttachmentProblems.TooLarge(result.Errors!),
            SendMessageOutcome.ConversationClosed => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conversation closed",
                detail: "The conversation is closed; messages can only be sent on an open conversation."),
            SendMessageOutcome.ChannelDeleted => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Channel deleted",
                detail: "The conversation's channel was deleted; it sends no more messages."),
            SendMessageOutcome.Refused => TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: result.Refusal!.Title, detail: result.Refusal.Detail),
            _ => TypedResults.ValidationProblem(result.Errors!),
        };

    private static async Task<Results<Ok<ConversationResponse>, NotFound>> CloseAsync(
        string conversationId, AgentMessages agent, TenantContext tenant, CancellationToken cancellationToken) =>
        await agent.CloseAsync(tenant.CompanyId, conversationId, cancellationToken) is { } closed
            ? TypedResults.Ok(ToResponse(closed))
            : TypedResults.NotFound();

    private static async Task<Results<Ok<ListResponse<MessageResponse>>, NotFound, ValidationProblem>> AuditMessagesAsync(
        string? direction, DateTimeOffset? since, int? limit, string? channelId, string? continuationToken,
        IConversationStore store, IChannelStore channels, TenantContext tenant, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        MessageDirection? parsed = null;
        if (direction is not null)
        {
            if (Enum.TryParse<MessageDirection>(direction, ignoreCase: true, out var d) && !int.TryParse(direction, out _))
            {
                parsed = d;
            }
            else
            {
                errors.Add("direction", "Must be inbound or outbound.");
            }
        }

        CheckLimit(limit, errors);
        if (!errors.IsValid)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        // A channel key reads its own channel only; naming another one is answered as a channel that does not exist.
        var channel = tenant.ChannelId;
        if (channel is null || (channelId is not null && channelId != channel)
            || await channels.GetAsync(tenant.CompanyId, channel, includeDeleted: true, cancellationToken) is null)
        {
            return TypedResults.NotFound();
        }

        var page = await store.ListChannelMessagesAsync(tenant.CompanyId, channel, parsed, since, limit ?? TablePaging.DefaultLimit, continuationToken, cancellationToken);
        return TypedResults.Ok(new ListResponse<MessageResponse>(page.Items.Select(ToResponse).ToList(), page.ContinuationToken));
    }

    private static void CheckLimit(int? limit, ValidationErrors errors)
    {
        if (limit is < 1 or > TablePaging.MaxLimit)
        {
            errors.Add("limit", $"Must be between 1 and {TablePaging.MaxLimit}.");
        }
    }

    internal static ConversationResponse ToResponse(Conversation c) => new(
        c.Id, c.ChannelId, new ContactResponse(c.Contact.ExternalId, c.Contact.Name, c.Contact.Email, c.Contact.Phone),
        c.ExternalId, c.Subject, c.Status, c.CreatedAt, c.UpdatedAt, c.ClosedAt, c.CloseReason?.ToString().ToLowerInvariant(), c.Handler == ConversationHandler.Bot ? "bot" : "agents", c.BotId, c.ServiceId);

    internal static MessageResponse ToResponse(Message m) => new(
        m.Id, m.ConversationId, m.ChannelId, m.Direction, m.ExternalId, m.Text, m.Html, m.Subject,
        m.Attachments.Select(a => new AttachmentResponse(a.FileName, a.ContentType, a.Size)).ToList(), m.Metadata, m.Status, m.Error, m.CreatedAt,
        m.Delivery?.Status.ToString().ToLowerInvariant(),
        m.Delivery is { Status: MessageDeliveryStatus.Failed } d ? new DeliveryErrorResponse(d.ErrorCode, d.ErrorTitle) : null);
}
