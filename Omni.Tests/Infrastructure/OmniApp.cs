using System.Security.Cryptography;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Omni.Tests.Infrastructure;

/// <summary>
/// The real app on real Kestrel (so tests speak HTTP over a socket), on the shared Azurite. One per test class;
/// tenants keep tests apart, since every test makes its own company.
/// </summary>
public sealed class OmniApp : WebApplicationFactory<Program>
{
    private readonly AzuriteFixture _azurite;
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;

    public OmniApp(AzuriteFixture azurite, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        _azurite = azurite;
        _configureServices = configureServices;
        _settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString,
            ["Omni:AdminToken"] = AdminToken,
            ["Omni:SecretsKey"] = SecretsKey,
            ["Omni:Triggers:RunLocally"] = "false",
            // The trim collects the whole process, and here that is the test run with every other test's app in it.
            ["Omni:Memory:TrimWhenIdleFor"] = "00:00:00",
            ["Logging:LogLevel:Default"] = "Debug",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        Port = Repository.FreeTcpPort();
        UseKestrel(Port);
    }

    public string AdminToken { get; } = "admin-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    public string SecretsKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public CapturedLogs Logs { get; } = new();

    /// <summary>The loopback port Kestrel listens on, for clients that are not HttpClient.</summary>
    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    public string StorageConnectionString => _azurite.ConnectionString;

    /// <summary>A client with no credential.</summary>
    public HttpClient Anonymous()
    {
        StartServer();
        return CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = BaseAddress });
    }

    /// <summary>A client that sends <c>Authorization: Bearer {token}</c>.</summary>
    public HttpClient As(string token)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient Admin() => As(AdminToken);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.ClearProviders().AddProvider(Logs));
        // Webhook deliveries and mail connections from any test app reach only this machine, whatever host a test's channel holds.
        builder.ConfigureServices(services => services.AddSingleton<Omni.Security.IHostResolver, LoopbackOnlyResolver>());
        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
    }
}
