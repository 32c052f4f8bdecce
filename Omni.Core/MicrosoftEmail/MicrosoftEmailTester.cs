using Azure.Core;
using Microsoft.Extensions.Options;
using Omni.Channels;

namespace Omni.MicrosoftEmail;

/// <summary>
/// "Testar Configurações" for a Microsoft 365 mailbox: an app-only token from the tenant, then the mailbox's inbox
/// folder read with it, which needs the Mail permissions granted and the mailbox to exist.
/// </summary>
internal sealed class MicrosoftEmailTester(GraphClientCache clients, IOptions<MicrosoftGraphOptions> options, TimeProvider clock) : IChannelTester
{
    public const string TokenCheck = "Token (Entra ID)";
    public const string MailboxCheck = "Caixa de entrada (Microsoft Graph)";

    public string ChannelType => ChannelTypes.MicrosoftEmail;

    public async Task<IReadOnlyList<ChannelCheck>> TestAsync(Channel channel, CancellationToken cancellationToken = default)
    {
        if (clients.Get(channel) is not { } connection)
        {
            return [new ChannelCheck(TokenCheck, false, 0, "The channel has no client secret; save the settings with clientSecret.")];
        }

        var started = clock.GetTimestamp();
        try
        {
            // CAE-capable, as the Graph client asks: the credential keeps CAE and plain tokens apart, and the same kind
            // means the Graph call below (and the next poll) reuse this token.
            await connection.Credential.GetTokenAsync(new TokenRequestContext([options.Value.Scope], isCaeEnabled: true), cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && GraphFailure.From(ex, clock) is { } failure)
        {
            // A failed credential keeps nothing worth reusing; the next test starts clean.
            clients.Invalidate(channel);
            return [new ChannelCheck(TokenCheck, false, Elapsed(started), failure.Message)];
        }

        var token = new ChannelCheck(TokenCheck, true, Elapsed(started));
        started = clock.GetTimestamp();
        try
        {
            await connection.Client.Users[channel.GetString("mailboxId")].MailFolders["inbox"]
                .GetAsync(r => r.QueryParameters.Select = ["id", "displayName"], cancellationToken);
            return [token, new ChannelCheck(MailboxCheck, true, Elapsed(started))];
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && GraphFailure.From(ex, clock) is { } failure)
        {
            return [token, new ChannelCheck(MailboxCheck, false, Elapsed(started), failure.Message)];
        }
    }

    private long Elapsed(long started) => (long)clock.GetElapsedTime(started).TotalMilliseconds;
}
