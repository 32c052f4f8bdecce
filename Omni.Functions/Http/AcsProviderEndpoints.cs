using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Functions.Hosting;
using Omni.Voice;

namespace Omni.Functions.Http;

public sealed record EventGridValidationResponse(string ValidationResponse);

/// <summary>
/// Azure Communication Services' side of calls (§8). Anonymous: Event Grid and ACS send none of our credentials. The
/// events endpoint proves itself to Event Grid by the handshake, and a forged IncomingCall cannot be answered (ACS
/// signs its call context); each call's callbacks carry the call's own secret.
/// </summary>
internal static class AcsProviderEndpoints
{
    public static IEndpointRouteBuilder MapAcsProviderEndpoints(this IEndpointRouteBuilder routes)
    {
        var acs = routes.MapGroup("/api/providers/acs").AllowAnonymous().WithTags("Provider webhooks");
        acs.MapPost("/events", ReceiveEventsAsync)
            .WithSummary("Event Grid's subscription handshake (SubscriptionValidationEvent → validationResponse) and Microsoft.Communication.IncomingCall events, Event Grid or CloudEvents schema")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        acs.MapMethods("/events", ["OPTIONS"], Handshake)
            .WithSummary("The CloudEvents webhook handshake: WebHook-Request-Origin is allowed back in WebHook-Allowed-Origin");
        acs.MapPost("/callbacks/{callId}", ReceiveCallbackAsync)
            .WithSummary("A call's Call Automation events (CloudEvents), with ?secret= the call's own secret; each moves the call one step")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return routes;
    }

    private static async Task<Results<Ok<EventGridValidationResponse>, Ok, ProblemHttpResult>> ReceiveEventsAsync(
        HttpRequest request, HttpResponse response, VoiceCalls calls, CancellationToken cancellationToken)
    {
        if (await request.ReadBoundedAsync(VoiceCalls.MaxEventBytes, cancellationToken) is not { } body)
        {
            return TooLarge();
        }

        var outcome = await calls.ReceiveEventsAsync(body, cancellationToken);
        switch (outcome.Status)
        {
            case EventsStatus.Validated:
                return TypedResults.Ok(new EventGridValidationResponse(outcome.ValidationCode!));
            case EventsStatus.Taken:
                return TypedResults.Ok();
            case EventsStatus.Unreadable:
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request",
                    detail: "Send Event Grid events (a JSON array) or CloudEvents (an object or a batch array).");
            default:
                // Event Grid retries a 503 with backoff: ACS could not be reached, or calls are not configured yet.
                response.Headers.RetryAfter = "10";
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service Unavailable",
                    detail: outcome.Status == EventsStatus.NotConfigured
                        ? "Calls are not configured here: set Omni__Voice__AcsEndpoint and Omni__Voice__PublicBaseUrl."
                        : "Azure Communication Services could not be reached to answer the call; deliver the event again.");
        }
    }

    private static Ok Handshake(HttpRequest request, HttpResponse response)
    {
        if (request.Headers["WebHook-Request-Origin"].FirstOrDefault() is { Length: > 0 } origin)
        {
            response.Headers["WebHook-Allowed-Origin"] = origin;
            response.Headers["WebHook-Allowed-Rate"] = "*";
        }

        return TypedResults.Ok();
    }

    private static async Task<Results<Ok, ProblemHttpResult>> ReceiveCallbackAsync(
        string callId, string? secret, HttpRequest request, VoiceCalls calls, CancellationToken cancellationToken)
    {
        if (await request.ReadBoundedAsync(VoiceCalls.MaxEventBytes, cancellationToken) is not { } body)
        {
            return TooLarge();
        }

        return await calls.ReceiveCallbackAsync(callId, secret, body, cancellationToken) switch
        {
            CallbackStatus.Taken => TypedResults.Ok(),
            CallbackStatus.Unauthorized => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "No call has this id, or secret is not the one its callback URL carried."),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request",
                detail: "Send the call's CloudEvents: a JSON array of events, or one event."),
        };
    }

    private static ProblemHttpResult TooLarge() => TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large",
        detail: $"An events delivery is at most {VoiceCalls.MaxEventBytes} bytes.");
}
