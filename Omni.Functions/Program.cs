using Omni.Audit;
using Omni.Bots;
using Omni.Channels;
using Omni.Conversations;
using Omni.Credentials;
using Omni.Email;
using Omni.Functions.Hosting;
using Omni.Functions.Http;
using Omni.Functions.Triggers;
using Omni.MercadoLivre;
using Omni.Meta;
using Omni.MicrosoftEmail;
using Omni.OmniChannel;
using Omni.Storage;
using Omni.Tenancy;
using Omni.Voice;
using Omni.Webchat;
using Omni.Webhooks;

var builder = WebApplication.CreateSlimBuilder(args);
builder.UseCustomHandlerPort();
builder.AddOmniStorage();
builder.AddOmniApi();
builder.AddOmniTriggers();
builder.AddOmniTelemetry();
builder.AddIdleMemoryTrim();
builder.Services.AddOmniTenancy().AddOmniCredentials().AddOmniChannels().AddOmniAudit();
builder.Services.AddOmniConversations().AddConversationFunctions();
builder.Services.AddOmniWebhooks().AddWebhookFunctions().AddOmniChannel();
builder.Services.AddOmniEmail().AddEmailFunctions();
builder.Services.AddOmniMicrosoftEmail();
builder.Services.AddMetaChannels().AddMetaFunctions().AddWebchatChannel().AddMercadoLivreChannel().AddMercadoLivreFunctions();
builder.Services.AddOmniVoice();
builder.Services.AddVoiceCalls();
builder.Services.AddOmniBots();
builder.Services.AddWebchatLimits();

var app = builder.Build();
app.UseWorkInFlight();
app.UseExceptionHandler();
app.UseStatusCodePages();
// Oversize bodies before anything that can answer without reading the body (a 401, 403 or 429): an unread body over
// Kestrel's limit makes it reset the connection, and the client sees the reset instead of the answer.
app.UseOversizeBodies();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();
app.UseStrictJsonBodies();

app.MapOperationsEndpoints();
app.MapCompanyEndpoints();
app.MapChannelEndpoints();
app.MapApiKeyEndpoints();
app.MapConversationEndpoints();
app.MapTemplateEndpoints();
app.MapReceiveHookEndpoints();
app.MapWebhookEndpoints();
app.MapEmailEndpoints();
app.MapMetaProviderEndpoints();
app.MapMercadoLivreEndpoints();
app.MapBotEndpoints();
app.MapInvocationEndpoints();
app.MapAdminEndpoints();
app.MapNumberEndpoints();
app.MapVoiceEndpoints();
app.MapIvrEndpoints();
app.MapIvrPromptEndpoints();
app.MapWebchatEndpoints();
app.MapAcsProviderEndpoints();

app.Run();

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
