using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Caching.Memory;
using Omni.Channels;
using Omni.Conversations;
using Omni.Functions.Hosting;
using Omni.Validation;

namespace Omni.Functions.Http;

public sealed record ReceiveHookContact(string? ExternalId, string? Name, string? Email, string? Phone);

public sealed record ReceiveHookRequest(
    string? ExternalId,
    ReceiveHookContact? Contact,
    string? ConversationExternalId,
    string? Text,
    IReadOnlyList<AttachmentRequest?>? Attachments,
    JsonObject? Metadata);

public sealed record ReceiveHookResponse(string MessageId, string ConversationId, string Status);

internal static partial class ReceiveHookEndpoints
{
    public const int MaxMetadataEntries = 50;
    private static readonly TimeSpan ChannelCacheDuration = TimeSpan.FromSeconds(30);

    public static IEndpointRouteBuilder MapReceiveHookEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/receive_hook", ReceiveAsync).RequireChannelKey().AcceptApiKeyHeader().WithTags("Receive hook")
            .WithSummary("Receive a message from an integrator (channel API key as Bearer or X-Api-Key); idempotent on externalId")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        return routes;
    }

    private static async Task<Results<Accepted<ReceiveHookResponse>, Ok<ReceiveHookResponse>, ValidationProblem, ProblemHttpResult>> ReceiveAsync(
        ReceiveHookRequest request, IConversationStore store, IChannelStore channels, AttachmentStore attachmentStore, IMemoryCache cache, TenantContext tenant,
        HttpContext http, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var externalId = errors.Required("externalId", request.ExternalId, maxLength: 200);
        var contact = ValidateContact(request.Contact, errors);
        var conversationExternalId = Optional("conversationExternalId", request.ConversationExternalId, 200, errors);
        var attachments = AttachmentRules.Validate(request.Attachments, errors, out var tooLarge);
        if (string.IsNullOrWhiteSpace(request.Text) && (request.Attachments is null || request.Attachments.Count == 0))
        {
            errors.Add("text", "Required unless there are attachments.");
        }

        AttachmentRules.CheckText("text", request.Text, errors);
        var metadata = ValidateMetadata(request.Metadata, errors);
        if (!errors.IsValid)
        {
            return tooLarge ? AttachmentRules.TooLarge(errors) : TypedResults.ValidationProblem(errors.ToDictionary());
        }

        // The key was checked by authentication, uncached, and deleting a channel revokes its keys first; reading the
        // channel too guards against a key outliving its channel. A live omni channel is remembered briefly, which
        // saves a storage transaction on every message of a busy integrator.
        var cacheKey = (typeof(ReceiveHookEndpoints), tenant.CompanyId, tenant.ChannelId);
        if (!cache.TryGetValue(cacheKey, out Channel? channel))
        {
            channel = await channels.GetAsync(tenant.CompanyId, tenant.ChannelId!, cancellationToken: cancellationToken);
            if (channel is { Type: ChannelTypes.Omni })
            {
                cache.Set(cacheKey, channel, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ChannelCacheDuration, Size = 1 });
            }
        }
        if (channel is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: "The channel of this API key was deleted.");
        }

        if (channel.Type != ChannelTypes.Omni)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: "receive_hook takes messages for omni channels only.");
        }

        var hash = BodyHash(externalId!, contact!, conversationExternalId, request.Text, attachments, metadata);
        var reserved = false;
        var refs = new List<AttachmentRef>();
        if (attachments.Count > 0)
        {
            // Uploads are the slow part: mark the key in flight first, so a concurrent retry is told to wait, not to upload again.
            var reservation = await store.ReserveAsync(tenant.CompanyId, channel.Id, externalId!, hash, cancellationToken);
            switch (reservation.Outcome)
            {
                case ReservationOutcome.InFlight:
                    return InFlight(http);
                case ReservationOutcome.Completed:
                    return Answer(reservation.Existing!);
            }

            reserved = true;
        }

        AppendResult result;
        try
        {
            foreach (var a in attachments)
            {
                refs.Add(await attachmentStore.UploadAsync(tenant.CompanyId, channel.Id, a.FileName, a.ContentType, a.Content, cancellationToken));
            }

            result = await store.AppendInboundAsync(new InboundMessage(
                tenant.CompanyId, channel.Id, externalId!, contact!, request.Text, Attachments: refs, Metadata: metadata,
                ConversationKeys: conversationExternalId is null ? null : [conversationExternalId], BodyHash: hash, Reserved: reserved), cancellationToken);
        }
        catch when (reserved)
        {
            // Not stored: free the key now rather than making the integrator's retry wait out the in-flight timeout.
            await store.ReleaseAsync(tenant.CompanyId, channel.Id, externalId!, CancellationToken.None);
            throw;
        }
        if (result.Outcome == AppendOutcome.Created)
        {
            LogAccepted(loggers.CreateLogger("Omni.Functions.Http.ReceiveHook"), result.Message.Id, result.Message.ConversationId, channel.Id);
        }

        return Answer(result);
    }

    private static Results<Accepted<ReceiveHookResponse>, Ok<ReceiveHookResponse>, ValidationProblem, ProblemHttpResult> Answer(AppendResult result)
    {
        var body = new ReceiveHookResponse(result.Message.Id, result.Message.ConversationId, "accepted");
        return result.Outcome switch
        {
            AppendOutcome.Created => TypedResults.Accepted((string?)null, body),
            AppendOutcome.Duplicate => TypedResults.Ok(body),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency key reused",
                detail: "A message with this externalId was already received with a different body. Use a new externalId for a new message."),
        };
    }

    private static ProblemHttpResult InFlight(HttpContext http)
    {
        http.Response.Headers.RetryAfter = "1";
        return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Request in progress",
            detail: "A request with this externalId is still being processed. Retry shortly; it will answer with the first request's ids.");
    }

    private static ContactInfo? ValidateContact(ReceiveHookContact? contact, ValidationErrors errors)
    {
        if (contact is null)
        {
            errors.Add("contact", "Required: at least {\"externalId\": \"...\"}.");
            return null;
        }

        var externalId = errors.Required("contact.externalId", contact.ExternalId, maxLength: 200);
        var name = Optional("contact.name", contact.Name, 200, errors);
        var email = Optional("contact.email", contact.Email, 254, errors);
        if (email is not null && !System.Net.Mail.MailAddress.TryCreate(email, out _))
        {
            errors.Add("contact.email", "Not an e-mail address.");
        }

        var phone = Optional("contact.phone", contact.Phone, 32, errors);
        return externalId is null ? null : new ContactInfo(externalId, name, email, phone);
    }

    private static string? Optional(string field, string? value, int maxLength, ValidationErrors errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        value = value.Trim();
        if (value.Length > maxLength)
        {
            errors.Add(field, $"At most {maxLength} characters.");
            return null;
        }

        return value;
    }

    /// <summary>Flat string values; numbers and booleans are kept as their JSON text, so {"orderId": 123} works too.</summary>
    private static Dictionary<string, string>? ValidateMetadata(JsonObject? metadata, ValidationErrors errors)
    {
        if (metadata is null)
        {
            return null;
        }

        if (metadata.Count > MaxMetadataEntries)
        {
            errors.Add("metadata", $"At most {MaxMetadataEntries} entries.");
            return null;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, node) in metadata)
        {
            if (key.Length is 0 or > 100)
            {
                errors.Add("metadata", "Keys must have 1 to 100 characters.");
                continue;
            }

            if (node is null)
            {
                continue;
            }

            string? value = node.GetValueKind() switch
            {
                JsonValueKind.String => node.GetValue<string>(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => node.ToJsonString(),
                _ => null,
            };
            if (value is null)
            {
                errors.Add($"metadata.{key}", "Must be a string, number or boolean.");
            }
            else if (value.Length > 1000)
            {
                errors.Add($"metadata.{key}", "At most 1000 characters.");
            }
            else
            {
                result[key] = value;
            }
        }

        // Entries within their limits can still add up past what one stored property holds.
        if (errors.IsValid && ConversationRows.MetadataBytes(result).Length > ConversationRows.MetadataLimitBytes)
        {
            errors.Add("metadata", $"At most {ConversationRows.MetadataLimitBytes / 1024} KiB in total as UTF-8 JSON.");
            return null;
        }

        return result;
    }

    /// <summary>A fingerprint of what the request means, not of its bytes: key order and whitespace do not make a different body.</summary>
    private static string BodyHash(string externalId, ContactInfo contact, string? conversationExternalId, string? text, List<DecodedAttachment> attachments, Dictionary<string, string>? metadata)
    {
        var canonical = new JsonObject
        {
            ["externalId"] = externalId,
            ["contact"] = new JsonObject { ["externalId"] = contact.ExternalId, ["name"] = contact.Name, ["email"] = contact.Email, ["phone"] = contact.Phone },
            ["conversationExternalId"] = conversationExternalId,
            ["text"] = text,
            ["attachments"] = new JsonArray(attachments.Select(a => (JsonNode)new JsonObject
            {
                ["fileName"] = a.FileName,
                ["contentType"] = a.ContentType,
                ["sha256"] = Convert.ToHexString(SHA256.HashData(a.Content)),
            }).ToArray()),
            ["metadata"] = metadata is null ? null : new JsonObject(metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
        };
        return Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToJsonString())));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "receive_hook accepted message {MessageId} in conversation {ConversationId} on channel {ChannelId}")]
    private static partial void LogAccepted(ILogger logger, string messageId, string conversationId, string channelId);
}
