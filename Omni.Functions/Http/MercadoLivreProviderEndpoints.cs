using Microsoft.AspNetCore.Http.HttpResults;
using Omni.Credentials;
using Omni.Functions.Hosting;
using Omni.Functions.Triggers;
using Omni.MercadoLivre;

namespace Omni.Functions.Http;

public sealed record MercadoLivreAuthorizeResponse(string Url);

/// <summary>
/// Mercado Livre's side: its notifications (anonymous, authenticated by the channel's notification key), the seller's
/// consent (the authorize URL for a channel, and the callback Mercado Livre redirects the seller to).
/// </summary>
internal static class MercadoLivreProviderEndpoints
{
    public const string NotificationsPath = "/api/providers/mercadolivre/notifications";
    public const string CallbackPath = "/api/providers/mercadolivre/oauth/callback";

    public static IEndpointRouteBuilder MapMercadoLivreEndpoints(this IEndpointRouteBuilder routes)
    {
        var provider = routes.MapGroup("/api/providers/mercadolivre").AllowAnonymous().WithTags("Provider webhooks");
        provider.MapPost("/notifications", ReceiveAsync).WithName("receiveMercadoLivreNotification").DescribeCredential(OpenApiSecurity.MercadoLivreKey).WithSummary("Mercado Livre's notifications, with ?key= the channel's notificationKey; stored before the 200, then processed")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        provider.MapGet("/oauth/callback", CallbackAsync).WithName("completeMercadoLivreConsent").WithSummary("Where Mercado Livre sends the seller after consent: stores the seller's tokens on the channel");
        routes.MapGroup("/api/companies/{companyId}/channels/{channelId}/mercadolivre").WithTags("Mercado Livre").RequireCompany()
            .MapGet("/authorize", AuthorizeAsync).WithName("authorizeMercadoLivre").RequireScope(Scopes.ChannelsWrite).WithSummary("The URL of Mercado Livre's consent page for the channel's seller");
        return routes;
    }

    /// <summary>The queue function that processes stored notifications and the missed-feeds timer.</summary>
    public static IServiceCollection AddMercadoLivreFunctions(this IServiceCollection services)
    {
        services.AddQueueFunction<MercadoLivreNotificationProcessor>(FunctionNames.MercadoLivreNotification, (processor, message, cancellationToken) => processor.HandleAsync(message.Body, cancellationToken));
        services.AddTimerFunction<MercadoLivreMissedFeeds>(FunctionNames.MercadoLivreMissedFeeds, (feeds, _, cancellationToken) => feeds.SweepAsync(cancellationToken));
        services.AddOptions<MercadoLivreOptions>()
            .Validate<FunctionCatalog>((o, catalog) => catalog.Functions.Any(f => f.Name == FunctionNames.MercadoLivreNotification && f.QueueName == o.NotificationsQueueName),
                $"Omni__MercadoLivre__NotificationsQueueName must be the queueName of functions/{FunctionNames.MercadoLivreNotification}/function.json.");
        return services;
    }

    /// <summary>A created mercadolivre channel's response with its notification key and URL (shown this once).</summary>
    public static ChannelResponse WithNotificationKey(ChannelResponse response, IReadOnlyDictionary<string, string> shownOnce, HttpRequest request) =>
        shownOnce.GetValueOrDefault(MercadoLivreSettingsRules.NotificationKeyField) is { } secret
        && MercadoLivreNotifications.ShownKey(response.Id, secret) is var key
            ? response with { NotificationKey = key, NotificationUrl = $"{Origin(request)}{NotificationsPath}?key={Uri.EscapeDataString(key)}" }
            : response;

    private static async Task<Results<Ok, ProblemHttpResult>> ReceiveAsync(string? key, HttpRequest request, MercadoLivreNotifications notifications, CancellationToken cancellationToken)
    {
        if (await request.ReadBoundedAsync(MercadoLivreNotifications.MaxBytes, cancellationToken) is not { } body)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large",
                detail: $"A Mercado Livre notification is at most {MercadoLivreNotifications.MaxBytes} bytes.");
        }

        return await notifications.ReceiveAsync(key, body, cancellationToken) switch
        {
            NotificationReceipt.Stored => TypedResults.Ok(),
            NotificationReceipt.BadKey => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: "key must be the notificationKey a Mercado Livre channel's create response showed."),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request",
                detail: "A Mercado Livre notification is a JSON object with topic, resource and user_id."),
        };
    }

    private static async Task<Results<Ok<MercadoLivreAuthorizeResponse>, NotFound>> AuthorizeAsync(
        string channelId, HttpRequest request, MercadoLivreConsent consent, TenantContext tenant, CancellationToken cancellationToken) =>
        await consent.AuthorizeAsync(tenant.CompanyId, channelId, new Uri(Origin(request) + CallbackPath), cancellationToken) is { } url
            ? TypedResults.Ok(new MercadoLivreAuthorizeResponse(url.ToString()))
            : TypedResults.NotFound();

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> CallbackAsync(string? code, string? state, MercadoLivreConsent consent, CancellationToken cancellationToken)
    {
        var result = await consent.CompleteAsync(code, state, cancellationToken);
        return result.Outcome switch
        {
            ConsentOutcome.Connected => TypedResults.Text("Mercado Livre conectado: o canal já recebe perguntas e mensagens. Pode fechar esta página.", "text/plain; charset=utf-8"),
            ConsentOutcome.Unavailable => TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service Unavailable", detail: result.Detail),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad Request", detail: result.Detail),
        };
    }

    private static string Origin(HttpRequest request) => $"{request.Scheme}://{request.Host}";
}
