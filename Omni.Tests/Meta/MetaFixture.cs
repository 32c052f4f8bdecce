using Microsoft.Extensions.DependencyInjection;
using Omni.Meta;
using Omni.Tests.Infrastructure;
using Omni.Tests.MicrosoftEmail;

namespace Omni.Tests.Meta;

/// <summary>The fake Meta of one test class, and the app wired to it (only the Meta HttpClient trusts its CA).</summary>
public sealed class MetaFixture : IAsyncLifetime
{
    public TestCertificateAuthority Authority { get; } = TestCertificateAuthority.Create();

    public FakeMeta Meta { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Meta = await FakeMeta.StartAsync(Authority);

    public OmniApp CreateApp(AzuriteFixture azurite, Action<IServiceCollection>? configureServices = null, IDictionary<string, string?>? settings = null) => new(azurite,
        new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>()) { ["Omni:Meta:GraphBaseUrl"] = Meta.GraphBaseUrl },
        services =>
        {
            services.AddHttpClient(MetaGraphClient.HttpClientName).ConfigurePrimaryHttpMessageHandler(Authority.CreateTrustingHandler);
            configureServices?.Invoke(services);
        });

    public async ValueTask DisposeAsync()
    {
        if (Meta is not null)
        {
            await Meta.DisposeAsync();
        }

        Authority.Dispose();
    }
}
