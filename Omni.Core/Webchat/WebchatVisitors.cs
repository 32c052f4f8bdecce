using System.Net.Mail;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Omni.Channels;
using Omni.Conversations;
using Omni.Security;
using Omni.Storage;
using Omni.Validation;
using Omni.Telemetry;

namespace Omni.Webchat;

/// <summary>A request of the visitor API, once its site (and session, when it names one) is known.</summary>
public sealed record WebchatVisit(Channel Channel, WebchatSession? Session);

/// <summary>What a page sends to start a session.</summary>
internal sealed record SessionRequest(string? Name, string? Email, string? UserId, string? UserHash);

internal enum SessionOutcome
{
    Created,
    Invalid,

    /// <summary>The channel requires identity, or a <c>userId</c> came with a <c>userHash</c> that is not its HMAC (401).</summary>
    IdentityRefused,
}

internal sealed record SessionStart(SessionOutcome Outcome, string? Token = null, WebchatSession? Session = null, string? ConversationId = null,
    Dictionary<string, string[]>? Errors = null, string? Detail = null);

/// <summary>One message of the visitor's thread, as the visitor may see it.</summary>
public sealed record VisitorMessage(string Id, string From, string? Text, DateTimeOffset CreatedAt, IReadOnlyList<VisitorAttachment> Attachments)
{
    public const string FromVisitor = "visitor";
    public const string FromAgent = "agent";
}

/// <summary>A stored message, or the errors that refused it; <c>TooLarge</c>: an attachment broke a size rule (413).</summary>
internal sealed record VisitorSend(Message? Message, Dictionary<string, string[]>? Errors = null, bool TooLarge = false);

/// <summary>
/// The visitor API's workflows: finding a site by its public token, starting sessions (with identity verified the
/// way Chatwoot does it: <c>userHash</c> is the hex HMAC-SHA256 of <c>userId</c> with the channel's identity secret),
/// storing the visitor's messages through the same inbound path every channel uses, and reading the visitor's thread.
/// </summary>
internal sealed partial class WebchatVisitors(
    IChannelStore channels,
    WebchatSessionStore sessions,
    IConversationStore conversations,
    AttachmentStore attachments,
    TimeProvider clock,
    ILogger<WebchatVisitors> logger)
{
    // The thread a visitor sees: its latest conversations on the site, at most this many messages of them.
    private const int ThreadConversations = 10;
    private const int ThreadMessages = 500;

    /// <summary>The live webchat channel a website token names; null for anything else (unknown, deleted, another kind).</summary>
    public async Task<WebchatVisit?> FindSiteAsync(string? websiteToken, CancellationToken cancellationToken = default) =>
        await LiveChannelAsync(WebsiteToken.ChannelIdOf(websiteToken), null, cancellationToken) is { } channel ? new WebchatVisit(channel, null) : null;

    /// <summary>The session a token names and its live channel; null when either is gone.</summary>
    public async Task<WebchatVisit?> FindSessionAsync(string? sessionToken, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(sessionToken) || await sessions.FindAsync(sessionToken, cancellationToken) is not { } session)
        {
            return null;
        }

        return await LiveChannelAsync(session.ChannelId, session.CompanyId, cancellationToken) is { } channel ? new WebchatVisit(channel, session) : null;
    }

    public async Task<SessionStart> StartSessionAsync(WebchatVisit site, string origin, SessionRequest request, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrors();
        var name = Optional("name", request.Name, 200, errors);
        var email = Optional("email", request.Email, 254, errors);
        if (email is not null && (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email))
        {
            errors.Add("email", "Must be an e-mail address such as maria@example.com.");
        }

        var userId = Optional("userId", request.UserId, 200, errors);
        var userHash = Optional("userHash", request.UserHash, 128, errors);
        if (userId is not null && userHash is null)
        {
            // An unverified userId would let anyone read the thread of the user they name.
            errors.Add("userHash", "Required with userId: the hex HMAC-SHA256 of userId with the channel's identity secret.");
        }

        if (!errors.IsValid)
        {
            return new SessionStart(SessionOutcome.Invalid, Errors: errors.ToDictionary());
        }

        var requireIdentity = site.Channel.Settings["requireIdentity"]?.GetValue<bool>() == true;
        if (userId is null && requireIdentity)
        {
            return new SessionStart(SessionOutcome.IdentityRefused, Detail: "This chat requires a verified visitor: send userId and userHash.");
        }

        if (userId is not null && !IdentityVerified(site.Channel, userId, userHash!))
        {
            LogIdentityRefused(site.Channel.Id);
            return new SessionStart(SessionOutcome.IdentityRefused, Detail: "userHash is not the hex HMAC-SHA256 of userId with the channel's identity secret.");
        }

        var contact = userId ?? Ids.New("visitor");
        var session = new WebchatSession(site.Channel.CompanyId, site.Channel.Id, contact, name, email, origin, userId is not null, clock.GetUtcNow());
        var token = await sessions.CreateAsync(session, cancellationToken);
        var open = await conversations.ListConversationsAsync(session.CompanyId, new ConversationFilter(session.ChannelId, contact, ConversationStatus.Open), 1, null, cancellationToken);
        LogSessionStarted(site.Channel.Id, session.Verified);
        return new SessionStart(SessionOutcome.Created, token, session, open.Items.FirstOrDefault()?.Id);
    }

    /// <summary>Stores the visitor's message in the contact's open conversation (opening one), durably, before the 202.</summary>
    /// <remarks>Attachments follow receive_hook's rules (<see cref="AttachmentRules"/>): base64 JSON, as many and as large.</remarks>
    public async Task<VisitorSend> SendAsync(WebchatVisit visit, string? text, IReadOnlyList<AttachmentUpload?>? uploads, string? clientMessageId, CancellationToken cancellationToken = default)
    {
        var session = visit.Session!;
        var errors = new ValidationErrors();
        var decoded = AttachmentRules.Validate(uploads, errors, out var tooLarge);
        if (string.IsNullOrWhiteSpace(text) && (uploads is null || uploads.Count == 0))
        {
            errors.Add("text", "Required unless the message has attachments.");
        }

        ConversationLimits.CheckText("text", text, errors);
        var clientId = Optional("clientMessageId", clientMessageId, 100, errors);
        if (!errors.IsValid)
        {
            return new VisitorSend(null, errors.ToDictionary(), tooLarge);
        }

        var refs = new List<AttachmentRef>();
        foreach (var a in decoded)
        {
            refs.Add(await attachments.UploadAsync(session.CompanyId, session.ChannelId, a.FileName, a.ContentType, a.Content, cancellationToken));
        }

        // A retried send (the widget after a network drop) names the same clientMessageId and is stored once; the
        // fingerprint covers the files too, so the same id with other files is a mismatch.
        var trimmed = string.IsNullOrWhiteSpace(text) ? null : text.Trim();
        var fingerprint = TokenHash.Of(string.Join('\n', decoded.Select(a => $"{a.FileName}\t{a.ContentType}\t{TokenHash.Of(Convert.ToBase64String(a.Content))}").Prepend(trimmed ?? "")));
        var externalId = $"webchat:{session.ContactExternalId}:{clientId ?? Ids.New("wcm")}";
        var result = await conversations.AppendInboundAsync(new InboundMessage(session.CompanyId, session.ChannelId, externalId,
            new ContactInfo(session.ContactExternalId, session.Name, session.Email), trimmed, Attachments: refs,
            BodyHash: fingerprint), cancellationToken);
        OmniTelemetry.MessageReceived(ChannelTypes.Webchat, result.Outcome);
        return result.Outcome == AppendOutcome.Mismatch
            ? new VisitorSend(null, new Dictionary<string, string[]> { ["clientMessageId"] = ["Already used for another message."] })
            : new VisitorSend(result.Message);
    }

    /// <summary>The visitor's thread, oldest first: their messages and the agents' sent replies; only those after <paramref name="after"/> when it names one.</summary>
    public async Task<IReadOnlyList<VisitorMessage>> ThreadAsync(WebchatSession session, string? after, CancellationToken cancellationToken = default)
    {
        var found = await conversations.ListConversationsAsync(session.CompanyId, new ConversationFilter(session.ChannelId, session.ContactExternalId), ThreadConversations, null, cancellationToken);
        var thread = new List<VisitorMessage>();
        foreach (var conversation in found.Items)
        {
            string? page = null;
            do
            {
                var messages = await conversations.ListMessagesAsync(session.CompanyId, conversation.Id, 100, page, cancellationToken);
                thread.AddRange(messages.Items.Where(Visible).Select(ToVisitor));
                page = messages.ContinuationToken;
            }
            while (page is not null && thread.Count < ThreadMessages);
        }

        var ordered = thread.OrderBy(m => m.CreatedAt).ThenBy(m => m.Id, StringComparer.Ordinal).ToList();
        var index = after is { Length: > 0 } ? ordered.FindIndex(m => m.Id == after) : -1;
        return ordered.Skip(index + 1).TakeLast(ThreadMessages).ToList();
    }

    public static VisitorMessage ToVisitor(Message message) =>
        new(message.Id, message.Direction == MessageDirection.Inbound ? VisitorMessage.FromVisitor : VisitorMessage.FromAgent, message.Text, message.CreatedAt, WebchatAttachments.Of(message));

    // Agents' messages count once their transport delivered them to the visitor; queued or failed ones are not theirs yet.
    public static bool Visible(Message message) => message.Direction == MessageDirection.Inbound || message.Status == MessageStatus.Sent;

    private bool IdentityVerified(Channel channel, string userId, string userHash) =>
        channels.RevealSecret(channel, WebchatSettingsRules.IdentitySecretField) is { } secret
        && TokenHash.FixedTimeEquals(Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(userId))), userHash.ToLowerInvariant());

    private static string? Optional(string field, string? value, int maxLength, ValidationErrors errors)
    {
        var trimmed = value?.Trim();
        if (trimmed is { Length: 0 })
        {
            return null;
        }

        if (trimmed is { } t && t.Length > maxLength)
        {
            errors.Add(field, $"At most {maxLength} characters.");
        }

        return trimmed;
    }

    private async Task<Channel?> LiveChannelAsync(string? channelId, string? companyId, CancellationToken cancellationToken)
    {
        if (!Ids.LooksValid(channelId) || (companyId ?? await channels.FindCompanyAsync(channelId!, cancellationToken)) is not { } company)
        {
            return null;
        }

        return await channels.GetAsync(company, channelId!, cancellationToken: cancellationToken) is { Type: ChannelTypes.Webchat } channel ? channel : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webchat session started on channel {ChannelId} (verified: {Verified})")]
    private partial void LogSessionStarted(string channelId, bool verified);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webchat session refused on channel {ChannelId}: userHash does not match")]
    private partial void LogIdentityRefused(string channelId);
}
