using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Azure.Data.Tables;
using Omni.Storage;

namespace Omni.Conversations;

/// <summary>
/// The row layout of the <c>Conversations</c> table. Everything of a company lives in one partition (its id), so a
/// message, its idempotency row, its audit row and the conversation's routing rows commit in one entity-group
/// transaction. Row keys start with a kind letter:
/// <list type="bullet">
/// <item><c>c|{conversationId}</c> the conversation (ids sort newest first).</item>
/// <item><c>m|{conversationId}|{messageId}</c> a message (ids are time-ordered: oldest first).</item>
/// <item><c>a|{channelId}|{messageId}</c> the same message, indexed by channel and time for audit.</item>
/// <item><c>i|{channelId}|{hash(externalId)}</c> idempotency: which message an external id became.</item>
/// <item><c>p|{channelId}|{hash(externalId)}</c> an in-flight marker (only for reserved appends).</item>
/// <item><c>o|{channelId}|{hash(contactExternalId)}</c> the contact's open conversation on the channel.</item>
/// <item><c>x|{channelId}|{hash(key)}</c> a conversation key (external id, e-mail Message-ID) of an open conversation,
/// and <c>y|{conversationId}|{hash(key)}</c> its reverse row, so closing finds the keys to drop;
/// <c>y|{conversationId}|open</c> (no key) is the conversation's open marker, which a close drops with the keys.</item>
/// <item><c>q|{messageId or conversationId}</c> an outbox item: a send or a close not handed on yet (<see cref="ConversationOutbox"/>).</item>
/// </list>
/// Routing rows (<c>o</c>, <c>x</c>) exist only while their conversation is open; a message that routes through one
/// rewrites it with its ETag, so a concurrent close (which deletes it) makes the append retry instead of landing in a
/// closed conversation.
/// </summary>
internal static class ConversationRows
{
    public const string Table = "Conversations";

    // Text and HTML (at most ConversationLimits.BodyBytes) are kept as binary chunks: a binary property holds 64 KiB,
    // a string only 32K characters.
    private const int ChunkBytes = 64 * 1000;

    // Stored as plain UTF-8 (ç is 2 bytes, not a 6-byte \u escape); it is read back as JSON, never embedded in HTML.
    private static readonly JsonTypeInfo<IReadOnlyDictionary<string, string>> MetadataJson = (JsonTypeInfo<IReadOnlyDictionary<string, string>>)
        new JsonSerializerOptions(ConversationJsonContext.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }
            .GetTypeInfo(typeof(IReadOnlyDictionary<string, string>));

    /// <summary>Metadata as it is stored; <see cref="ConversationLimits.MetadataFits"/> measures it the same way.</summary>
    public static byte[] MetadataBytes(IReadOnlyDictionary<string, string> metadata) => JsonSerializer.SerializeToUtf8Bytes(metadata, MetadataJson);

    public static string Conversation(string conversationId) => $"c|{conversationId}";

    public static string Message(string conversationId, string messageId) => $"m|{conversationId}|{messageId}";

    public static string MessagePrefix(string conversationId) => $"m|{conversationId}|";

    public static string AuditRow(string channelId, string messageId) => $"a|{channelId}|{messageId}";

    public static string AuditPrefix(string channelId) => $"a|{channelId}|";

    public static string Idempotency(string channelId, string externalId) => $"i|{channelId}|{Hash(externalId)}";

    public static string Pending(string channelId, string externalId) => $"p|{channelId}|{Hash(externalId)}";

    public static string Open(string channelId, string contactExternalId) => $"o|{channelId}|{Hash(contactExternalId)}";

    public static string Key(string channelId, string keyHash) => $"x|{channelId}|{keyHash}";

    public static string ReverseKey(string conversationId, string keyHash) => $"y|{conversationId}|{keyHash}";

    public static string ReverseKeyPrefix(string conversationId) => $"y|{conversationId}|";

    /// <summary>
    /// Exists while the conversation is open (written when an inbound message opens or joins it, dropped by the close
    /// with the reverse key rows), so an append that updates it on condition that it exists cannot land in a closed
    /// conversation without having read a routing row. "open" is no key hash (those are 43 characters).
    /// </summary>
    public static string OpenMarker(string conversationId) => $"y|{conversationId}|open";

    public static TableEntity OpenMarkerRow(string companyId, string conversationId, DateTimeOffset now) =>
        new(companyId, OpenMarker(conversationId)) { ["LastMessageAt"] = now };

    /// <summary>The filter for every row key that starts with <paramref name="prefix"/> ('}' sorts right after '|').</summary>
    public static string PrefixFilter(string partition, string prefix) =>
        TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey gt {prefix} and RowKey lt {prefix[..^1] + "}"}");

    /// <summary>Row keys cannot hold '/', '#', '?' or control characters and external ids may; a hash keeps any string safe and short.</summary>
    public static string Hash(string value) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(value))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Conversation ids that sort newest first, so the conversation listing is a forward scan.</summary>
    public static string NewConversationId(DateTimeOffset now) =>
        $"cnv_{Ids.ReverseChronological(now)}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    /// <summary>The smallest message id created at or after <paramref name="at"/> (ids are "msg_" + a UUIDv7, whose first 12 hex digits are Unix milliseconds).</summary>
    public static string MessageIdFloor(DateTimeOffset at) => $"msg_{Math.Max(0, at.ToUnixTimeMilliseconds()):x12}";

    public static TableEntity ToEntity(Message m, string rowKey)
    {
        var e = new TableEntity(m.CompanyId, rowKey)
        {
            ["MessageId"] = m.Id,
            ["ConversationId"] = m.ConversationId,
            ["ChannelId"] = m.ChannelId,
            ["Direction"] = m.Direction.ToString(),
            ["ExternalId"] = m.ExternalId,
            ["Subject"] = m.Subject,
            ["Status"] = m.Status.ToString(),
            ["Error"] = m.Error,
            ["CreatedAt"] = m.CreatedAt,
            ["Attachments"] = JsonSerializer.SerializeToUtf8Bytes(m.Attachments, ConversationJsonContext.Default.IReadOnlyListAttachmentRef),
        };
        WriteChunks(e, "Text", m.Text);
        WriteChunks(e, "Html", m.Html);
        if (m.Metadata is { Count: > 0 })
        {
            e["Metadata"] = MetadataBytes(m.Metadata);
        }

        if (m.Mail is not null)
        {
            e["Mail"] = MailBytes(m.Mail);
        }

        if (m.Delivery is not null)
        {
            foreach (var (name, value) in DeliveryColumns(m.Delivery))
            {
                e[name] = value;
            }
        }

        return e;
    }

    public static byte[] MailBytes(MailHeaders mail) =>
        JsonSerializer.SerializeToUtf8Bytes(mail with { References = mail.References.TakeLast(ConversationLimits.MailReferences).ToList() }, ConversationJsonContext.Default.MailHeaders);

    public static Message ToMessage(TableEntity e) => new(
        e.GetString("MessageId"),
        e.PartitionKey,
        e.GetString("ChannelId"),
        e.GetString("ConversationId"),
        Enum.Parse<MessageDirection>(e.GetString("Direction")),
        e.GetString("ExternalId"),
        ReadChunks(e, "Text"),
        ReadChunks(e, "Html"),
        e.GetString("Subject"),
        e.GetBinary("Attachments") is { } a ? JsonSerializer.Deserialize(a, ConversationJsonContext.Default.IReadOnlyListAttachmentRef) ?? [] : [],
        e.GetBinary("Metadata") is { } md ? JsonSerializer.Deserialize(md, ConversationJsonContext.Default.IReadOnlyDictionaryStringString) : null,
        e.GetBinary("Mail") is { } mail ? JsonSerializer.Deserialize(mail, ConversationJsonContext.Default.MailHeaders) : null,
        Enum.Parse<MessageStatus>(e.GetString("Status")),
        e.GetString("Error"),
        e.GetDateTimeOffset("CreatedAt") ?? default,
        ToDelivery(e))
    {
        ProviderMessageId = e.GetString("ProviderMessageId"),
        HandOverStarted = e.GetBoolean(OutboundClaims.HandOverColumn) ?? false,
    };

    public static Dictionary<string, object?> DeliveryColumns(MessageDelivery d) => new()
    {
        ["DeliveryStatus"] = d.Status.ToString(),
        ["DeliveryErrorCode"] = d.ErrorCode,
        ["DeliveryErrorTitle"] = d.ErrorTitle,
    };

    public static MessageDelivery? ToDelivery(TableEntity e) =>
        Enum.TryParse<MessageDeliveryStatus>(e.GetString("DeliveryStatus"), out var status)
            ? new MessageDelivery(status, e.GetInt32("DeliveryErrorCode"), e.GetString("DeliveryErrorTitle"))
            : null;

    public static TableEntity ToEntity(Conversation c, DateTimeOffset lastMessageAt) => new(c.CompanyId, Conversation(c.Id))
    {
        ["ConversationId"] = c.Id,
        ["ChannelId"] = c.ChannelId,
        ["ContactExternalId"] = c.Contact.ExternalId,
        ["ContactName"] = c.Contact.Name,
        ["ContactEmail"] = c.Contact.Email,
        ["ContactPhone"] = c.Contact.Phone,
        ["ExternalId"] = c.ExternalId,
        ["Subject"] = c.Subject,
        ["Status"] = c.Status.ToString(),
        ["CreatedAt"] = c.CreatedAt,
        ["UpdatedAt"] = c.UpdatedAt,
        ["ClosedAt"] = c.ClosedAt,
        ["LastMessageAt"] = lastMessageAt,
        ["LastInboundAt"] = c.LastInboundAt,
        ["SendRecord"] = c.IsSendRecord ? true : null,
        ["CloseReason"] = c.CloseReason?.ToString(),
        ["Handler"] = c.Handler == ConversationHandler.Bot ? nameof(ConversationHandler.Bot) : null,
        ["BotId"] = c.BotId,
    };

    /// <summary>The columns a hand-off or a return rewrites (merged onto the conversation row).</summary>
    public static TableEntity RoutingColumns(string companyId, string conversationId, ConversationRouting routing, int version, DateTimeOffset now) =>
        new(companyId, Conversation(conversationId))
        {
            ["Handler"] = routing.Handler.ToString(),
            ["BotId"] = routing.BotId,
            ["ServiceId"] = routing.ServiceId,
            ["RoutingVersion"] = version,
            ["UpdatedAt"] = now,
        };

    public static Conversation ToConversation(TableEntity e) => new(
        e.GetString("ConversationId"),
        e.PartitionKey,
        e.GetString("ChannelId"),
        new ContactInfo(e.GetString("ContactExternalId"), e.GetString("ContactName"), e.GetString("ContactEmail"), e.GetString("ContactPhone")),
        e.GetString("ExternalId"),
        e.GetString("Subject"),
        Enum.Parse<ConversationStatus>(e.GetString("Status")),
        e.GetDateTimeOffset("CreatedAt") ?? default,
        e.GetDateTimeOffset("UpdatedAt") ?? default,
        e.GetDateTimeOffset("ClosedAt"))
    {
        LastInboundAt = e.GetDateTimeOffset("LastInboundAt"),
        IsSendRecord = e.GetBoolean("SendRecord") == true,
        CloseReason = Enum.TryParse<ConversationCloseReason>(e.GetString("CloseReason"), out var reason) ? reason : null,
        Handler = e.GetString("Handler") == nameof(ConversationHandler.Bot) ? ConversationHandler.Bot : ConversationHandler.Agents,
        BotId = e.GetString("BotId"),
        ServiceId = e.GetString("ServiceId"),
        RoutingVersion = e.GetInt32("RoutingVersion") ?? 0,
    };

    /// <summary>Rows that route a conversation key to a conversation while it is open, and the reverse rows that let closing find them.</summary>
    public static void AddKeys(List<TableTransactionAction> actions, string companyId, string channelId, string conversationId, IEnumerable<string> keyHashes, DateTimeOffset now, string? except)
    {
        foreach (var hash in keyHashes)
        {
            var rowKey = Key(channelId, hash);
            if (rowKey == except)
            {
                continue;
            }

            // Upsert: the newest message to carry a key wins it.
            actions.Add(new(TableTransactionActionType.UpsertReplace, RoutingRow(companyId, rowKey, conversationId, now)));
            actions.Add(new(TableTransactionActionType.UpsertReplace, new TableEntity(companyId, ReverseKey(conversationId, hash)) { ["KeyHash"] = hash }));
        }
    }

    public static TableEntity RoutingRow(string companyId, string rowKey, string conversationId, DateTimeOffset now) =>
        new(companyId, rowKey) { ["ConversationId"] = conversationId, ["LastMessageAt"] = now };

    private static void WriteChunks(TableEntity e, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        e[name] = bytes.AsSpan(0, Math.Min(bytes.Length, ChunkBytes)).ToArray();
        for (int i = 1, offset = ChunkBytes; offset < bytes.Length; i++, offset += ChunkBytes)
        {
            e[$"{name}{i}"] = bytes.AsSpan(offset, Math.Min(ChunkBytes, bytes.Length - offset)).ToArray();
        }
    }

    private static string? ReadChunks(TableEntity e, string name)
    {
        if (e.GetBinary(name) is not { } first)
        {
            return null;
        }

        if (e.GetBinary($"{name}1") is null)
        {
            return Encoding.UTF8.GetString(first);
        }

        using var buffer = new MemoryStream();
        buffer.Write(first);
        for (var i = 1; e.GetBinary($"{name}{i}") is { } next; i++)
        {
            buffer.Write(next);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>The small queue message that asks the SendOutbound function to send one message: ids only, the rest is read fresh.</summary>
public sealed record OutboundWork(string CompanyId, string ConversationId, string MessageId, int Attempt = 1);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IReadOnlyList<AttachmentRef>))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(MailHeaders))]
[JsonSerializable(typeof(OutboundWork))]
internal sealed partial class ConversationJsonContext : JsonSerializerContext;
