using System.Net.ServerSentEvents;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Omni.Functions.Hosting;
using Omni.Webchat;

namespace Omni.Functions.Http;

public sealed record WebchatSessionRequest(string? Name, string? Email, string? UserId, string? UserHash);

public sealed record WebchatSessionResponse(string SessionToken, string ContactId, string? ConversationId);

public sealed record WebchatMessageRequest(string? Text, string? ClientMessageId, IReadOnlyList<AttachmentRequest?>? Attachments = null);

public sealed record WebchatMessageAccepted(string MessageId, string ConversationId, string Status);

public sealed record WebchatAttachmentResponse(string FileName, string ContentType, long Size, string Url);

public sealed record WebchatMessageResponse(string Id, string From, string? Text, DateTimeOffset CreatedAt, IReadOnlyList<WebchatAttachmentResponse> Attachments);

public sealed record WebchatNegotiateResponse(Uri Url);

/// <summary>
/// The visitor API (§11): public routes a site's widget calls. Each request is first tied to its site, by the
/// website token in the route or the session token it carries (<see cref="WebchatAccess"/>), and to the page's
/// origin, which must be one of the site's <c>allowedOrigins</c>.
/// </summary>
internal static class WebchatEndpoints
{
    public static IEndpointRouteBuilder MapWebchatEndpoints(this IEndpointRouteBuilder routes)
    {
        // Every visitor route checks the page's origin (403) and is rate-limited (429, WebchatLimits).
        var webchat = routes.MapGroup("/api/webchat").AllowAnonymous().WithTags("Webchat")
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status429TooManyRequests);
        webchat.MapMethods("/{**path}", ["OPTIONS"], WebchatAccess.Preflight).ExcludeFromDescription();

        var site = webchat.MapGroup("/{websiteToken}").AddEndpointFilter(WebchatAccess.SiteAsync);
        site.MapGet("/widget.js", Widget).WithName("getWidget").WithSummary("The embeddable widget: <script src=\".../widget.js\" async></script>")
            .Produces<string>(StatusCodes.Status200OK, "text/javascript");
        site.MapPost("/sessions", StartSessionAsync).WithName("startWebchatSession").WithSummary("Start a visitor session; userHash (hex HMAC-SHA256 of userId with the identity secret) verifies the visitor")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status429TooManyRequests);

        var session = webchat.MapGroup("/sessions").AddEndpointFilter(WebchatAccess.SessionAsync).DescribeCredential(OpenApiSecurity.WebchatSession);
        session.MapPost("/messages", SendAsync).WithName("sendWebchatMessage").WithSummary("The visitor's message (Bearer session token) with optional attachments (receive_hook's limits), stored before the 202")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status429TooManyRequests);
        session.MapGet("/attachments/{conversationId}/{messageId}/{index:int}", DownloadAsync).WithName("downloadWebchatAttachment").WithSummary("An attachment of the visitor's own thread (the url its message lists)")
            .Produces(StatusCodes.Status200OK).ProducesProblem(StatusCodes.Status404NotFound);
        session.MapGet("/messages", ThreadAsync).WithName("listWebchatMessages").WithSummary("The visitor's thread, oldest first; after= gives what followed a message id");
        session.MapGet("/events", Events).WithName("streamWebchatEvents").WithSummary("text/event-stream of agents' replies; Last-Event-ID (or after=) resumes without loss or repeats; ?access_token= for EventSource")
            .Produces<WebchatMessageResponse>(StatusCodes.Status200OK, "text/event-stream");
        session.MapPost("/negotiate", NegotiateAsync).WithName("negotiateWebchat").WithSummary("An Azure Web PubSub client URL scoped to this visitor, when Web PubSub is configured");
        return routes;
    }

    private static ContentHttpResult Widget(WebchatAccess access, WebchatWidget widget, HttpResponse response)
    {
        response.Headers.CacheControl = "public, max-age=300";
        response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.Text(widget.Script(access.Visit), "text/javascript; charset=utf-8");
    }

    private static async Task<Results<Created<WebchatSessionResponse>, ValidationProblem, ProblemHttpResult>> StartSessionAsync(
        WebchatSessionRequest request, WebchatAccess access, WebchatVisitors visitors, CancellationToken cancellationToken)
    {
        var started = await visitors.StartSessionAsync(access.Visit, access.Origin ?? "", new SessionRequest(request.Name, request.Email, request.UserId, request.UserHash), cancellationToken);
        return started.Outcome switch
        {
            SessionOutcome.Created => TypedResults.Created((string?)null, new WebchatSessionResponse(started.Token!, started.Session!.ContactExternalId, started.ConversationId)),
            SessionOutcome.IdentityRefused => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Identity not verified", detail: started.Detail),
            _ => TypedResults.ValidationProblem(started.Errors!),
        };
    }

    private static async Task<Results<Accepted<WebchatMessageAccepted>, ValidationProblem, ProblemHttpResult>> SendAsync(
        WebchatMessageRequest request, WebchatAccess access, WebchatVisitors visitors, CancellationToken cancellationToken)
    {
        var sent = await visitors.SendAsync(access.Visit, request.Text, AttachmentProblems.Uploads(request.Attachments), request.ClientMessageId, cancellationToken);
        return sent switch
        {
            { Message: { } m } => TypedResults.Accepted((string?)null, new WebchatMessageAccepted(m.Id, m.ConversationId, "accepted")),
            { TooLarge: true } => AttachmentProblems.TooLarge(sent.Errors!),
            _ => TypedResults.ValidationProblem(sent.Errors!),
        };
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> DownloadAsync(
        string conversationId, string messageId, int index, WebchatAccess access, WebchatAttachments attachments, HttpResponse response, CancellationToken cancellationToken)
    {
        if (await attachments.DownloadAsync(access.Visit.Session!, conversationId, messageId, index, cancellationToken) is not { } file)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No attachment of this visitor's thread is here.");
        }

        // Always a download, never rendered in the site's origin.
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.CacheControl = "private, no-store";
        return TypedResults.File(file.Content.ToArray(), file.ContentType, file.FileName);
    }

    private static async Task<Ok<ListResponse<WebchatMessageResponse>>> ThreadAsync(string? after, WebchatAccess access, WebchatVisitors visitors, CancellationToken cancellationToken) =>
        TypedResults.Ok(new ListResponse<WebchatMessageResponse>((await visitors.ThreadAsync(access.Visit.Session!, after, cancellationToken)).Select(ToResponse).ToList()));

    private static ServerSentEventsResult<WebchatMessageResponse?> Events(
        [FromHeader(Name = "Last-Event-ID")] string? lastEventId, string? after, WebchatAccess access, WebchatEventStream stream, CancellationToken cancellationToken) =>
        TypedResults.ServerSentEvents(Items(stream.ReadAsync(access.Visit.Session!, lastEventId ?? after, cancellationToken)));

    private static async Task<Results<Ok<WebchatNegotiateResponse>, ProblemHttpResult>> NegotiateAsync(WebchatAccess access, WebPubSubClient pubSub, HttpResponse response, CancellationToken cancellationToken)
    {
        if (!pubSub.Enabled)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not configured",
                detail: "Azure Web PubSub is not configured here (Omni__Webchat__WebPubSubEndpoint); use GET /api/webchat/sessions/events.");
        }

        if (await pubSub.ClientUrlAsync(access.Visit.Session!.VisitorKey, cancellationToken) is not { } url)
        {
            response.Headers.RetryAfter = "5";
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Web PubSub unavailable",
                detail: "Azure Web PubSub did not issue a client token; retry shortly, or use GET /api/webchat/sessions/events.");
        }

        return TypedResults.Ok(new WebchatNegotiateResponse(url));
    }

    private static async IAsyncEnumerable<SseItem<WebchatMessageResponse?>> Items(IAsyncEnumerable<VisitorMessage?> messages)
    {
        await foreach (var message in messages)
        {
            // A null is the stream's keep-alive; EventSource ignores event types it does not listen to.
            yield return message is null
                ? new SseItem<WebchatMessageResponse?>(null, "ping")
                : new SseItem<WebchatMessageResponse?>(ToResponse(message), "message") { EventId = message.Id };
        }
    }

    private static WebchatMessageResponse ToResponse(VisitorMessage m) =>
        new(m.Id, m.From, m.Text, m.CreatedAt, m.Attachments.Select(a => new WebchatAttachmentResponse(a.FileName, a.ContentType, a.Size, a.Url)).ToList());
}
