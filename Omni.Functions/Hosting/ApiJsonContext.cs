using System.Text.Json;
using System.Text.Json.Serialization;
using Omni.Functions.Http;
using Omni.Functions.Triggers;

namespace Omni.Functions.Hosting;

/// <summary>
/// Source-generated JSON for every body the API reads or writes. The deployment package is Native AOT, where
/// reflection cannot build converters for records whose constructors take value types (a DateTimeOffset is
/// enough), so each request and response type of an endpoint is listed here, one line each.
/// Deployment.AotJsonCoverageTests fails when an endpoint uses a type that is missing.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(CreateCompanyRequest))]
[JsonSerializable(typeof(CompanyResponse))]
[JsonSerializable(typeof(CreateManagementKeyRequest))]
[JsonSerializable(typeof(ManagementKeyCreatedResponse))]
[JsonSerializable(typeof(CreateServiceRequest))]
[JsonSerializable(typeof(ServiceResponse))]
[JsonSerializable(typeof(ListResponse<ServiceResponse>))]
[JsonSerializable(typeof(AuditEventResponse))]
[JsonSerializable(typeof(ListResponse<AuditEventResponse>))]
[JsonSerializable(typeof(ChannelRequest))]
[JsonSerializable(typeof(ChannelResponse))]
[JsonSerializable(typeof(ListResponse<ChannelResponse>))]
[JsonSerializable(typeof(ChannelTestResponse))]
[JsonSerializable(typeof(CreateApiKeyRequest))]
[JsonSerializable(typeof(ApiKeyCreatedResponse))]
[JsonSerializable(typeof(ApiKeyResponse))]
[JsonSerializable(typeof(ListResponse<ApiKeyResponse>))]
[JsonSerializable(typeof(WebhookSecretResponse))]
[JsonSerializable(typeof(ReceiveHookRequest))]
[JsonSerializable(typeof(ReceiveHookResponse))]
[JsonSerializable(typeof(ConversationResponse))]
[JsonSerializable(typeof(ListResponse<ConversationResponse>))]
[JsonSerializable(typeof(MessageResponse))]
[JsonSerializable(typeof(ListResponse<MessageResponse>))]
[JsonSerializable(typeof(SendMessageRequest))]
[JsonSerializable(typeof(WebchatSessionRequest))]
[JsonSerializable(typeof(WebchatSessionResponse))]
[JsonSerializable(typeof(WebchatMessageRequest))]
[JsonSerializable(typeof(WebchatMessageAccepted))]
[JsonSerializable(typeof(WebchatMessageResponse))]
[JsonSerializable(typeof(ListResponse<WebchatMessageResponse>))]
[JsonSerializable(typeof(WebchatNegotiateResponse))]
[JsonSerializable(typeof(System.Net.ServerSentEvents.SseItem<WebchatMessageResponse>))]
[JsonSerializable(typeof(SendMessageResponse))]
[JsonSerializable(typeof(TemplateSendRequest))]
[JsonSerializable(typeof(TemplateSendResponse))]
[JsonSerializable(typeof(ListResponse<TemplateResponse>))]
[JsonSerializable(typeof(DeliverySummaryResponse))]
[JsonSerializable(typeof(ListResponse<DeliverySummaryResponse>))]
[JsonSerializable(typeof(DeliveryResponse))]
[JsonSerializable(typeof(QuarantinedMailResponse))]
[JsonSerializable(typeof(ListResponse<QuarantinedMailResponse>))]
[JsonSerializable(typeof(InvocationRequest))]
[JsonSerializable(typeof(InvocationResponse))]
[JsonSerializable(typeof(Omni.Channels.SecretRewrapResult))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
