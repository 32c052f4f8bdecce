using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Omni.Conversations;

namespace Omni.Functions.Http;

/// <summary>
/// The OpenAPI document's request and response examples: the README's tour, as typed records serialized the way
/// the API writes them, so an example cannot drift from its schema and each one works when tried from /api/docs
/// (after the ids of your own tour replace these). Applied to every operation whose body is one of these types.
/// </summary>
internal static class ApiExamples
{
    private const string Company = "cmp_0196a3c1e5f07b2e8d4c9a1f3b5d7e90";
    private const string Service = "svc_0196a3c1f8e27c4a9d1b3f5a7c9e1b3d";
    private const string Channel = "chn_0196a3c2a7d17e0f9b3c5d7e9f1a3b5c";
    private const string Conversation = "cnv_0799f2b3c4d5e6f7a8b9c0d1e2f3";
    private const string Inbound = "msg_0196a3c4b2e97f1a8c3d5e7f9a1b3c5d";
    private const string Outbound = "msg_0196a3c4f1a27b3c9d5e7f1a3b5c7d9e";
    private static readonly DateTimeOffset At = new(2026, 11, 24, 10, 0, 0, TimeSpan.Zero);
    private static readonly string[] TourScopes = ["channels:read", "channels:write", "keys:write", "conversations:read", "conversations:write", "audit:read"];

    private static readonly ReceiveHookContact Maria = new("cust-42", "Maria", "maria@example.com", "+5511999990000");

    private static readonly object[] All =
    [
        new CreateCompanyRequest("Acme", "America/Sao_Paulo"),
        new CompanyResponse(Company, "Acme", "America/Sao_Paulo", At),
        new CreateManagementKeyRequest("acme-admin", TourScopes),
        new ManagementKeyCreatedResponse("mk_0196a3c1e9a07c1d8e3f5a7b9c1d3e5f", "acme-admin", TourScopes, "omni_mk_Q3v9xT", "omni_mk_Q3v9xT2bLw8sKd0nR4yVf6hZ1mJc7pXe5gAa9uBqWtE", At),
        new CreateServiceRequest("Suporte"),
        new ServiceResponse(Service, "Suporte", null, At),
        new ChannelRequest("omni", "ERP", Service, new JsonObject { ["webhookUrl"] = "https://erp.example.com/hooks/omni" }),
        new ChannelResponse(Channel, Company, "omni", "ERP", Service, new JsonObject { ["webhookUrl"] = "https://erp.example.com/hooks/omni" }, At, At)
        {
            WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw5ehqeMRzSPU=",
        },
        new CreateApiKeyRequest("erp"),
        new ApiKeyCreatedResponse("ck_0196a3c3d4e57a9b8c1d3e5f7a9b1c3d", "erp", "omni_ck_h7Rk2P", "omni_ck_h7Rk2PqW9zL4vN8xB1cT6yM3sD0fG5jKaE2uHrVbYnQ", At),
        new ReceiveHookRequest("erp-4711", Maria, null, "My order did not arrive", null, new JsonObject { ["orderId"] = "123" }),
        new ReceiveHookResponse(Inbound, Conversation, "accepted"),
        new SendMessageRequest("On its way!", null),
        new SendMessageResponse(Outbound, MessageStatus.Queued),
        new ConversationResponse(Conversation, Channel, new ContactResponse("cust-42", "Maria", "maria@example.com", "+5511999990000"),
            null, null, ConversationStatus.Open, At, At.AddMinutes(2), null, ServiceId: Service),
        new ListResponse<MessageResponse>(
        [
            new(Inbound, Conversation, Channel, MessageDirection.Inbound, "erp-4711", "My order did not arrive", null, null, [],
                new Dictionary<string, string> { ["orderId"] = "123" }, MessageStatus.Accepted, null, At),
            new(Outbound, Conversation, Channel, MessageDirection.Outbound, null, "On its way!", null, null, [], null, MessageStatus.Sent, null, At.AddMinutes(2)),
        ]),
        new BotRequest("Triagem", "https://bot.example.com/omni"),
        new WebchatSessionRequest("Maria", "maria@example.com", null, null),
        new WebchatMessageRequest("Hello, is my order on its way?", "c-1", null),
    ];

    private static Dictionary<Type, JsonNode?>? _examples;

    public static Task ApplyAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var examples = _examples ??= Build(context.ApplicationServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions);
        var description = context.Description;
        if (description.ParameterDescriptions.FirstOrDefault(p => p.Source == BindingSource.Body)?.Type is { } requestType
            && examples.TryGetValue(requestType, out var request)
            && operation.RequestBody?.Content?.TryGetValue("application/json", out var requestMedia) == true)
        {
            requestMedia.Example = request?.DeepClone();
        }

        foreach (var response in description.SupportedResponseTypes)
        {
            if (response.Type is { } type && examples.TryGetValue(type, out var example)
                && operation.Responses?.TryGetValue(response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), out var described) == true
                && described.Content?.TryGetValue("application/json", out var media) == true)
            {
                media.Example = example?.DeepClone();
            }
        }

        return Task.CompletedTask;
    }

    private static Dictionary<Type, JsonNode?> Build(JsonSerializerOptions api)
    {
        // Exactly as the API writes them (nulls too: the schema lists every member as present).
        return All.ToDictionary(e => e.GetType(), e => JsonSerializer.SerializeToNode(e, e.GetType(), api));
    }
}
