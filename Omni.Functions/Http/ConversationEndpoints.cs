using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Channels;
using Omni.Conversations;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Storage;
using Omni.Validation;
using Omni.Webhooks;

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
    DateTimeOffset? ClosedAt);

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
    DateTimeOffset CreatedAt);

/// <summary>An attachment as JSON carries it: the bytes base64-encoded.</summary>
public sealed record AttachmentRequest(string? FileName, string? ContentType, string? ContentBase64);

public sealed record SendMessageRequest(string? Text, IReadOnlyList<AttachmentRequest?>? Attachments);

public sealed record SendMessageResponse(string MessageId, MessageStatus Status);

internal static class ConversationEndpoints
{
    public static IEndpointRouteBuilder MapConversationEndpoints(this IEndpointRouteBuilder routes)
    {
        var conversations = routes.MapGroup("/api/companies/{companyId}/conversations").WithTags("Conversations");
        conversations.MapGet("/", ListAsync).RequireCompanyScope(Scopes.ConversationsRead)
            .WithSummary("List conversations, newest first, by channel, contact and status");
        conversations.MapGet("/{conversationId}", GetAsync).RequireCompanyScope(Scopes.ConversationsRead).WithSummary("Get a conversation");
        conversations.MapGet("/{conversationId}/messages", HistoryAsync).RequireCompanyScope(Scopes.ConversationsRead)
            .WithSummary("A conversation's history, both directions, oldest first");
        conversations.MapPost("/{conversationId}/messages", SendAsync).RequireCompanyScope(Scopes.ConversationsWrite)
            .WithSummary("Send a message to the contact by the channel's transport; 202 once it is queued")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        conversations.MapPost("/{conversationId}/close", CloseAsync).RequireCompanyScope(Scopes.ConversationsWrite)
            .WithSummary("Close a conversation; the contact's next message opens a new one");

        routes.MapGet("/api/audit/messages", AuditMessagesAsync).RequireChannelKey(Scopes.AuditRead).WithTags("Audit").ProducesValidationProblem()
            .WithSummary("Messages received and sent on a channel, oldest first (channel API key, or a management key with audit:read or the platform admin, with ?channelId=)");
        return routes;
    }

    /// <summary>The SendOutbound queue function, run by the Functions host or the local trigger runner.</summary>
    public static IServiceCollection AddConversationFunctions(this IServiceCollection services) =>
        services.AddQueueFunction<OutboundSender>(FunctionNames.SendOutbound, (sender, message, cancellationToken) => sender.HandleAsync(message.Body, cancellationToken));

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
        string conversationId, SendMessageRequest request, IConversationStore store, IChannelStore channels, AttachmentStore attachments,
        OutboundQueue queue, TenantContext tenant, CancellationToken cancellationToken)
    {
        var conversation = await store.GetConversationAsync(tenant.CompanyId, conversationId, cancellationToken);
        if (conversation is null)
        {
            return TypedResults.NotFound();
        }

        var errors = new ValidationErrors();
        var decoded = AttachmentRules.Validate(request.Attachments, errors, out var tooLarge);
        var text = request.Text;
        if (string.IsNullOrWhiteSpace(text) && decoded.Count == 0)
        {
            errors.Add("text", "Required unless there are attachments.");
        }

        AttachmentRules.CheckText("text", text, errors);
        if (!errors.IsValid)
        {
            return tooLarge ? AttachmentRules.TooLarge(errors) : TypedResults.ValidationProblem(errors.ToDictionary());
        }

        if (conversation.Status == ConversationStatus.Closed)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conversation closed",
                detail: "The conversation is closed; messages can only be sent on an open conversation.");
        }

        if (await channels.GetAsync(tenant.CompanyId, conversation.ChannelId, cancellationToken: cancellationToken) is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Channel deleted",
                detail: "The conversation's channel was deleted; it sends no more messages.");
        }

        var refs = new List<AttachmentRef>();
        foreach (var a in decoded)
        {
            refs.Add(await attachments.UploadAsync(tenant.CompanyId, conversation.ChannelId, a.FileName, a.ContentType, a.Content, cancellationToken));
        }

        var message = await store.AppendOutboundAsync(conversation, text, null, refs, cancellationToken);
        try
        {
            await queue.EnqueueAsync(new OutboundWork(tenant.CompanyId, conversation.Id, message.Id), cancellationToken: cancellationToken);
        }
        catch
        {
            // Never leave a message that looks queued but is not: the caller gets an error and retries with a new one.
            await store.SetStatusAsync(tenant.CompanyId, conversation.Id, message.Id, MessageStatus.Failed, "The message could not be queued for sending.", cancellationToken: CancellationToken.None);
            throw;
        }
        return TypedResults.Accepted($"/api/companies/{tenant.CompanyId}/conversations/{conversation.Id}/messages", new SendMessageResponse(message.Id, message.Status));
    }

    private static async Task<Results<Ok<ConversationResponse>, NotFound>> CloseAsync(
        string conversationId, IConversationStore store, IChannelStore channels, IServiceProvider services, TenantContext tenant, CancellationToken cancellationToken)
    {
        var closed = await store.CloseAsync(tenant.CompanyId, conversationId, cancellationToken);
        if (closed is null)
        {
            return TypedResults.NotFound();
        }

        // Every close publishes, the repeated one too: the publisher keys the event by conversation, so a close retried
        // after a failed publish delivers it and concurrent closes deliver it once under one webhook-id.
        if (await channels.GetAsync(tenant.CompanyId, closed.ChannelId, cancellationToken: cancellationToken) is { Type: ChannelTypes.Omni } channel
            && services.GetService<IWebhookPublisher>() is { } publisher)
        {
            await publisher.PublishAsync(channel, WebhookEventTypes.ConversationClosed, new JsonObject
            {
                ["conversationId"] = closed.Id,
                ["channelId"] = closed.ChannelId,
                ["externalId"] = closed.ExternalId,
                ["contact"] = new JsonObject { ["externalId"] = closed.Contact.ExternalId },
                ["closedAt"] = closed.ClosedAt,
            }, cancellationToken: cancellationToken);
        }

        return TypedResults.Ok(ToResponse(closed));
    }

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
        c.ExternalId, c.Subject, c.Status, c.CreatedAt, c.UpdatedAt, c.ClosedAt);

    internal static MessageResponse ToResponse(Message m) => new(
        m.Id, m.ConversationId, m.ChannelId, m.Direction, m.ExternalId, m.Text, m.Html, m.Subject,
        m.Attachments.Select(a => new AttachmentResponse(a.FileName, a.ContentType, a.Size)).ToList(), m.Metadata, m.Status, m.Error, m.CreatedAt);
}
