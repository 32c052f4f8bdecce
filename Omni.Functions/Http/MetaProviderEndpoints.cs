using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.Meta;

namespace Omni.Functions.Http;

/// <summary>
/// Meta's webhook for one channel. Anonymous: Meta sends none of our credentials; the verify token (GET) and the
/// app secret's signature over the raw bytes (POST) are the authentication.
/// </summary>
internal static class MetaProviderEndpoints
{
    public static IEndpointRouteBuilder MapMetaProviderEndpoints(this IEndpointRouteBuilder routes)
    {
        var meta = routes.MapGroup("/api/providers/meta/{channelId}").AllowAnonymous().WithTags("Provider webhooks");
        meta.MapGet("/", VerifyAsync).WithName("verifyMetaWebhook").WithSummary("Meta's subscription handshake: answers hub.challenge when hub.verify_token is the channel's");
        meta.MapPost("/", ReceiveAsync).WithName("receiveMetaEvents").DescribeCredential(OpenApiSecurity.MetaSignature).WithSummary("Meta's events, signed with X-Hub-Signature-256; stored before the 200, then processed")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return routes;
    }

    /// <summary>The MetaEvent queue function and the WhatsAppExpiry timer, and a start check that events are queued where MetaEvent's function.json listens.</summary>
    public static IServiceCollection AddMetaFunctions(this IServiceCollection services)
    {
        services.AddQueueFunction<MetaEventProcessor>(FunctionNames.MetaEvent, (processor, message, cancellationToken) => processor.HandleAsync(message.Body, cancellationToken));
        services.AddTimerFunction<WhatsAppExpirySweep>(FunctionNames.WhatsAppExpiry, (sweep, _, cancellationToken) => sweep.SweepAsync(cancellationToken));
        services.AddOptions<MetaInboundOptions>()
            .Validate<FunctionCatalog>((o, catalog) => catalog.Functions.Any(f => f.Name == FunctionNames.MetaEvent && f.QueueName == o.EventsQueueName),
                $"Omni__Meta__EventsQueueName must be the queueName of functions/{FunctionNames.MetaEvent}/function.json.");
        return services;
    }

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> VerifyAsync(
        string channelId,
        [FromQuery(Name = "hub.mode")] string? mode,
        [FromQuery(Name = "hub.verify_token")] string? verifyToken,
        [FromQuery(Name = "hub.challenge")] string? challenge,
        MetaWebhooks webhooks,
        CancellationToken cancellationToken)
    {
        var result = await webhooks.VerifyAsync(channelId, mode, verifyToken, challenge, cancellationToken);
        return result.Outcome switch
        {
            MetaWebhookOutcome.Ok => TypedResults.Text(result.Challenge, "text/plain; charset=utf-8"),
            MetaWebhookOutcome.BadVerifyToken => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: "hub.mode must be subscribe, with a hub.challenge, and hub.verify_token must be the channel's verifyToken."),
            _ => NotFound(),
        };
    }

    private static async Task<Results<Ok, ProblemHttpResult>> ReceiveAsync(string channelId, HttpRequest request, MetaWebhooks webhooks, CancellationToken cancellationToken)
    {
        if (await request.ReadBoundedAsync(MetaInboundOptions.MaxEventBytes, cancellationToken) is not { } body)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large",
                detail: $"A Meta event is at most {MetaInboundOptions.MaxEventBytes} bytes.");
        }

        var result = await webhooks.ReceiveAsync(channelId, body, request.Headers["X-Hub-Signature-256"].FirstOrDefault(), cancellationToken);
        return result.Outcome switch
        {
            MetaWebhookOutcome.Ok => TypedResults.Ok(),
            MetaWebhookOutcome.BadSignature => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the body with the channel's app secret."),
            _ => NotFound(),
        };
    }

    // One answer for unknown, deleted and non-Meta channels: the URL says nothing about which.
    private static ProblemHttpResult NotFound() =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No Meta channel has this id.");
}
