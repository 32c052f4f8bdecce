using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Omni.Credentials;
using Omni.Security;

namespace Omni.Functions.Hosting;

/// <summary>
/// One scheme for the four kinds of credential: the platform admin token, management keys, channel API keys and bot keys,
/// all as <c>Authorization: Bearer</c>; <c>X-Api-Key</c> too on routes marked <see cref="ApiKeyHeaderAccepted"/>.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ICredentialStore credentials,
    IOptions<OmniOptions> omni,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = ReadToken();
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        if (omni.Value.AdminToken is { } admin && TokenHash.FixedTimeEquals(token, admin))
        {
            return Success([new(OmniClaims.Kind, OmniClaims.AdminKind), new(ClaimTypes.Name, "platform-admin")]);
        }

        var credential = await credentials.ResolveAsync(token, Context.RequestAborted);
        if (credential is null)
        {
            return AuthenticateResult.Fail("The API key is not valid or was revoked.");
        }

        Context.Items[typeof(ResolvedCredential)] = credential;
        var claims = new List<Claim>
        {
            new(OmniClaims.Kind, credential.Kind switch
            {
                CredentialKind.Management => OmniClaims.ManagementKind,
                CredentialKind.Bot => OmniClaims.BotKind,
                _ => OmniClaims.ChannelKind,
            }),
            new(OmniClaims.Company, credential.CompanyId),
            new(OmniClaims.KeyId, credential.KeyId),
            new(OmniClaims.KeyName, credential.Name),
            new(ClaimTypes.Name, credential.KeyId),
        };
        if (credential.ChannelId is { } channelId)
        {
            claims.Add(new(OmniClaims.Channel, channelId));
        }

        if (credential.BotId is { } botId)
        {
            claims.Add(new(OmniClaims.Bot, botId));
        }

        claims.AddRange(credential.Scopes.Select(s => new Claim(OmniClaims.Scope, s)));
        await credentials.RecordUseAsync(credential, Context.RequestAborted);
        return Success(claims);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return WriteProblemAsync(StatusCodes.Status401Unauthorized, "Unauthorized", "Send a valid credential as 'Authorization: Bearer <token>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden", "The credential is valid but lacks the scope this operation needs.");

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new() { HttpContext = Context, ProblemDetails = { Status = status, Title = title, Detail = detail } });
    }

    private AuthenticateResult Success(IEnumerable<Claim> claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));

    private string? ReadToken()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim() is { Length: > 0 } bearer ? bearer : null;
        }

        if (Context.GetEndpoint()?.Metadata.GetMetadata<ApiKeyHeaderAccepted>() is not null)
        {
            return Request.Headers["X-Api-Key"].ToString().Trim() is { Length: > 0 } apiKey ? apiKey : null;
        }

        return null;
    }
}
