using Azure;
using Azure.Data.Tables;
using Omni.Security;
using Omni.Storage;

namespace Omni.Webchat;

/// <summary>
/// A visitor's session on one site: who the contact is (a verified <c>userId</c>, or an anonymous visitor id) and the
/// origin it was started from. The token itself is never stored, only its hash.
/// </summary>
public sealed record WebchatSession(string CompanyId, string ChannelId, string ContactExternalId, string? Name, string? Email, string Origin, bool Verified, DateTimeOffset CreatedAt)
{
    /// <summary>Every session of one contact on one channel shares this key: what replies are published to.</summary>
    public string VisitorKey => VisitorKeyOf(CompanyId, ChannelId, ContactExternalId);

    public static string VisitorKeyOf(string companyId, string channelId, string contactExternalId) =>
        TokenHash.Of($"{companyId}\n{channelId}\n{contactExternalId}")[..32];
}

/// <summary>
/// Sessions by the hash of their token, one row each: a point read per visitor request. A session idle for longer
/// than <see cref="WebchatOptions.SessionIdleTimeout"/> is gone; its last use is written at most once a day, so a
/// busy visitor costs no write per request.
/// </summary>
internal sealed class WebchatSessionStore(TableServiceClient tables, TimeProvider clock, Microsoft.Extensions.Options.IOptions<WebchatOptions> options)
{
    private static readonly TimeSpan SeenGranularity = TimeSpan.FromDays(1);

    public const string Table = "WebchatSessions";
    public const string TokenPrefix = "omni_wcs_";

    private readonly TableClient _table = tables.GetTableClient(Table);

    /// <summary>Stores a new session and returns its token, shown to the visitor only.</summary>
    public async Task<string> CreateAsync(WebchatSession session, CancellationToken cancellationToken = default)
    {
        var token = TokenHash.NewToken(TokenPrefix);
        try
        {
            await _table.AddEntityAsync(new TableEntity(TokenHash.Of(token), "")
            {
                ["CompanyId"] = session.CompanyId,
                ["ChannelId"] = session.ChannelId,
                ["ContactExternalId"] = session.ContactExternalId,
                ["Name"] = session.Name,
                ["Email"] = session.Email,
                ["Origin"] = session.Origin,
                ["Verified"] = session.Verified,
                ["CreatedAt"] = session.CreatedAt,
                ["LastSeenAt"] = session.CreatedAt,
            }, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            throw new StorageConflictException("A session token collided with a stored one.", e);
        }

        return token;
    }

    public async Task<WebchatSession?> FindAsync(string token, CancellationToken cancellationToken = default)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 100
            || await _table.FindAsync(TokenHash.Of(token), "", cancellationToken) is not { } e)
        {
            return null;
        }

        var now = clock.GetUtcNow();
        var seen = e.GetDateTimeOffset("LastSeenAt") ?? e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue;
        if (now - seen > options.Value.SessionIdleTimeout)
        {
            return null;
        }

        if (now - seen > SeenGranularity)
        {
            // Unconditional: two requests refreshing at once write the same thing.
            try
            {
                await _table.UpdateEntityAsync(new TableEntity(e.PartitionKey, e.RowKey) { ["LastSeenAt"] = now }, ETag.All, TableUpdateMode.Merge, cancellationToken);
            }
            catch (RequestFailedException gone) when (gone.Status == 404)
            {
                return null;
            }
        }

        return new WebchatSession(e.GetString("CompanyId"), e.GetString("ChannelId"), e.GetString("ContactExternalId"), e.GetString("Name"), e.GetString("Email"),
            e.GetString("Origin") ?? "", e.GetBoolean("Verified") ?? false, e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue);
    }
}
