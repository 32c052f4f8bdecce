using Microsoft.Extensions.DependencyInjection;
using Omni.MicrosoftEmail;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>The fake Microsoft cloud of one test class, and the app wired to it (and only its HttpClients trusting its CA).</summary>
public sealed class MicrosoftCloudFixture : IAsyncLifetime
{
    public TestCertificateAuthority Authority { get; } = TestCertificateAuthority.Create();

    public FakeMicrosoftCloud Cloud { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Cloud = await FakeMicrosoftCloud.StartAsync(Authority);

    public OmniApp CreateApp(AzuriteFixture azurite, Action<IServiceCollection>? configureServices = null, IDictionary<string, string?>? settings = null) => new(azurite,
        new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["Omni:Microsoft:GraphBaseUrl"] = Cloud.GraphBaseUrl,
            ["Omni:Microsoft:AuthorityHost"] = Cloud.AuthorityHost,
            // Instance discovery would ask login.microsoftonline.com about the local authority: no test calls the internet.
            ["Omni:Microsoft:DisableInstanceDiscovery"] = "true",
        },
        services =>
        {
            services.AddHttpClient(GraphClientCache.GraphHttpClient).ConfigurePrimaryHttpMessageHandler(Authority.CreateTrustingHandler);
            services.AddHttpClient(GraphClientCache.TokenHttpClient).ConfigurePrimaryHttpMessageHandler(Authority.CreateTrustingHandler);
            configureServices?.Invoke(services);
        });

    public async ValueTask DisposeAsync()
    {
        if (Cloud is not null)
        {
            await Cloud.DisposeAsync();
        }

        Authority.Dispose();
    }
}

/// <summary>A Microsoft 365 mailbox in the fake cloud, an app registration that may read it, and the channel made for it.</summary>
public sealed record GraphMailboxChannel(TestTenant Tenant, string ChannelId, FakeTenant Directory, FakeApp App, FakeMailbox Mailbox);

internal static class GraphArrange
{
    public static object Settings(FakeMailbox mailbox, FakeApp app, string? tenantId = null, string? clientId = null, string? clientSecret = null, string? mailboxId = null, string? signatureHtml = null) => new Dictionary<string, object?>
    {
        ["address"] = mailbox.Address,
        ["mailboxId"] = mailboxId ?? mailbox.Id,
        ["tenantId"] = tenantId ?? app.Tenant.Id,
        ["clientId"] = clientId ?? app.ClientId,
        ["clientSecret"] = clientSecret ?? app.Secret,
        ["signatureHtml"] = signatureHtml,
        ["pollSeconds"] = 10,
    };

    public static async Task<GraphMailboxChannel> GraphChannelAsync(this OmniApp app, FakeMicrosoftCloud cloud, TestTenant? tenant = null, bool mailPermissionGranted = true, string? signatureHtml = null)
    {
        tenant ??= await app.TenantAsync();
        var directory = cloud.AddTenant();
        var registration = directory.AddApp(mailPermissionGranted);
        var mailbox = directory.AddMailbox($"atendimento{Random.Shared.Next(1000, 9999)}@contoso.com");
        var channel = await app.ChannelAsync(tenant, "microsoft-email", Settings(mailbox, registration, signatureHtml: signatureHtml));
        return new GraphMailboxChannel(tenant, channel["id"]!.GetValue<string>(), directory, registration, mailbox);
    }
}
