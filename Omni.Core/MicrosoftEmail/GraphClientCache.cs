using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Microsoft.Extensions.Options;
using Microsoft.Graph;
using Microsoft.Kiota.Authentication.Azure;
using Omni.Channels;

namespace Omni.MicrosoftEmail;

/// <summary>
/// One <see cref="ClientSecretCredential"/> and Graph client per channel, kept for as long as the channel's
/// tenant, app, secret and save time stay the same. The credential caches its token and renews it shortly before
/// it expires, so polls and sends reuse one token instead of asking Entra ID every time.
/// </summary>
internal sealed class GraphClientCache(IChannelStore channels, IHttpClientFactory httpClients, IOptions<MicrosoftGraphOptions> options)
{
    /// <summary>The named HttpClient for Graph calls; tests plug their CA into its primary handler.</summary>
    public const string GraphHttpClient = "omni-graph";

    /// <summary>The named HttpClient the credential uses for the token endpoint.</summary>
    public const string TokenHttpClient = "omni-graph-token";

    private const string SecretField = "clientSecret";
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A channel's Graph client, or null when the channel has no client secret stored.</summary>
    public GraphConnection? Get(Channel channel)
    {
        var fingerprint = Fingerprint(channel);
        if (_entries.TryGetValue(channel.Id, out var cached) && cached.Fingerprint == fingerprint)
        {
            return cached.Connection;
        }

        if (channels.RevealSecret(channel, SecretField) is not { } secret
            || channel.GetString("tenantId") is not { } tenantId
            || channel.GetString("clientId") is not { } clientId)
        {
            return null;
        }

        var o = options.Value;
        var credential = new ClientSecretCredential(tenantId, clientId, secret, new ClientSecretCredentialOptions
        {
            AuthorityHost = o.AuthorityHostUri,
            DisableInstanceDiscovery = o.DisableInstanceDiscovery,
            Transport = new HttpClientTransport(httpClients.CreateClient(TokenHttpClient)),
            // A wrong tenant, app or secret is a 400/401 and is not retried anyway; a failing token endpoint
            // should fail this poll quickly and leave the retry to the next one.
            Retry = { MaxRetries = 1, Delay = TimeSpan.FromMilliseconds(200) },
        });
        var graphUri = o.GraphBaseUri;
        var authentication = new AzureIdentityAuthenticationProvider(credential, [graphUri.Host], scopes: [o.Scope]);
        var client = new GraphServiceClient(httpClients.CreateClient(GraphHttpClient), authentication, graphUri.ToString().TrimEnd('/'));
        var connection = new GraphConnection(client, credential);
        _entries[channel.Id] = new Entry(fingerprint, connection);
        return connection;
    }

    /// <summary>
    /// Drops a channel's cached credential, so the next call asks for a new token: for a 401 on a token the
    /// credential still held for valid (revoked, or the clocks disagree).
    /// </summary>
    public void Invalidate(Channel channel) => _entries.TryRemove(channel.Id, out _);

    // The secret's ciphertext stands in for the secret: it changes whenever the secret does, and is not the secret.
    private static string Fingerprint(Channel channel)
    {
        var parts = string.Join('\n', channel.GetString("tenantId"), channel.GetString("clientId"),
            channel.ProtectedSecrets.GetValueOrDefault(SecretField), channel.UpdatedAt.UtcTicks);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(parts)));
    }

    private sealed record Entry(string Fingerprint, GraphConnection Connection);
}

/// <summary>A channel's Graph client and the credential behind it (the settings test asks it for a token first).</summary>
internal sealed record GraphConnection(GraphServiceClient Client, TokenCredential Credential);
