using Omni.Credentials;

namespace Omni.Functions.Hosting;

/// <summary>
/// Who is calling, and for which company and channel, filled once per request by authorization after it has
/// checked the caller may act there. Handlers key every store call by <see cref="CompanyId"/>, never by the
/// URL alone.
/// </summary>
public sealed class TenantContext
{
    private string? _companyId;

    public bool IsAdmin { get; internal set; }

    public string CompanyId
    {
        get => _companyId ?? throw new InvalidOperationException("No company was authorized for this request.");
        internal set => _companyId = value;
    }

    public string? ChannelId { get; internal set; }

    /// <summary>The bot a bot key acts for; set only on <c>/api/bots/*</c>.</summary>
    public string? BotId { get; internal set; }

    public CredentialKind? CredentialKind { get; internal set; }

    public IReadOnlySet<string> Scopes { get; internal set; } = new HashSet<string>();

    /// <summary>How audit records name the caller: never the key itself.</summary>
    public string Actor { get; internal set; } = "anonymous";

    public bool HasScope(string scope) => IsAdmin || Scopes.Contains(scope);
}
