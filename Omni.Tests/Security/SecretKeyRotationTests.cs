using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Omni.Channels;
using Omni.Security;
using Omni.Storage;
using Omni.Tests.Channels;
using Omni.Tests.Infrastructure;
using Omni.Tests.Webhooks;

namespace Omni.Tests.Security;

/// <summary>
/// Rotating Omni__SecretsKey as an operator would, on real Azurite: restart the app with a ring whose current key
/// is new, re-wrap the stored secrets with POST /api/admin/secrets/rewrap, then restart without the old key.
/// </summary>
public sealed class SecretKeyRotationTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static readonly (string, string?)[] NoKeys = [];
    private readonly string _k0 = SecretKeyRingTests.NewKey();
    private readonly string _k1 = SecretKeyRingTests.NewKey();
    private readonly string _k2 = SecretKeyRingTests.NewKey();
    private readonly Dictionary<string, string?> _queues = IsolatedQueues.Settings();
    private readonly List<OmniApp> _apps = [];
    private WebhookSink _sink = null!;

    public async ValueTask InitializeAsync() => _sink = await WebhookSink.StartAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.DisposeAsync();
        }

        await _sink.DisposeAsync();
    }

    /// <summary>One generation of the app: the same storage and queues, the given secrets-key settings.</summary>
    private OmniApp App(params (string Key, string? Value)[] keys) => App(null, keys);

    private OmniApp App(Action<IServiceCollection>? configureServices, params (string Key, string? Value)[] keys)
    {
        var settings = new Dictionary<string, string?>(_queues)
        {
            ["Omni:Triggers:RunLocally"] = "true",
            ["Omni:Triggers:RetryDelay"] = "00:00:00.100",
            ["Omni:Triggers:MaxPollingInterval"] = "00:00:00.200",
            // A message an app stopping mid-attempt leaves behind comes back to the next generation soon.
            ["Omni:Triggers:VisibilityTimeout"] = "00:00:10",
            ["Omni:Webhooks:AllowPrivateTargets"] = "true",
            ["Omni:Webhooks:RetrySchedule"] = "00:00:00,00:00:00.200,00:00:00.200",
        };
        foreach (var (key, value) in keys)
        {
            settings[key] = value;
        }

        var app = new OmniApp(azurite, settings, configureServices);
        _apps.Add(app);
        app.StartServer();
        return app;
    }

    private OmniApp LegacyOnly() => App(("Omni:SecretsKey", _k0));

    private OmniApp LegacyAndK2(Action<IServiceCollection>? configureServices = null) => App(configureServices, ("Omni:SecretsKey", _k0), ("Omni:SecretsKeys:0:Id", "k2"), ("Omni:SecretsKeys:0:Key", _k2), ("Omni:SecretsKeyCurrent", "k2"));

    private OmniApp K2Only() => App(("Omni:SecretsKey", ""), ("Omni:SecretsKeys:0:Id", "k2"), ("Omni:SecretsKeys:0:Key", _k2), ("Omni:SecretsKeyCurrent", "k2"));

    /// <summary>Every stored secret of the company's channels, as Table Storage holds it.</summary>
    private async Task<List<(string ChannelId, string Field, string Value)>> StoredSecretsAsync(string companyId)
    {
        var table = new TableClient(azurite.ConnectionString, StorageNames.ChannelsTable);
        var secrets = new List<(string, string, string)>();
        await foreach (var row in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {companyId}")))
        {
            foreach (var (field, value) in JsonSerializer.Deserialize<Dictionary<string, string>>(row.GetString("Secrets"))!)
            {
                secrets.Add((row.RowKey, field, value));
            }
        }

        return secrets;
    }

    private static async Task<SecretRewrapResult> RewrapAsync(OmniApp app)
    {
        var response = await app.Admin().PostAsync("/api/admin/secrets/rewrap", null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonSerializer.Deserialize<SecretRewrapResult>(body, JsonSerializerOptions.Web)!;
    }

    [Fact]
    public async Task ChannelsSavedUnderTheSingleKeyStayReadableAfterARingIsAddedAndNewWritesCarryTheCurrentKeyId()
    {
        var before = LegacyOnly();
        var tenant = await before.TenantAsync();
        var instagram = (await before.ChannelAsync(tenant, "instagram", ChannelSamples.Valid["instagram"]))["id"]!.GetValue<string>();
        Assert.All(await StoredSecretsAsync(tenant.CompanyId), s => Assert.StartsWith("v1.", s.Value, StringComparison.Ordinal));

        var after = LegacyAndK2();
        var store = after.Services.GetRequiredService<IChannelStore>();
        var channel = (await store.GetAsync(tenant.CompanyId, instagram))!;
        Assert.Equal(ChannelSamples.Valid["instagram"]["appSecret"], store.RevealSecret(channel, "appSecret"));

        var created = (await after.ChannelAsync(tenant, "mercadolivre", ChannelSamples.Valid["mercadolivre"]))["id"]!.GetValue<string>();
        await Arrange.ReadAsync(await after.As(tenant.ManagementKey).PutAsJsonAsync($"/api/companies/{tenant.CompanyId}/channels/{instagram}",
            new { name = "again", serviceId = tenant.ServiceId, settings = ChannelSamples.With("instagram", "accessToken", "IGQ-new-token") }), HttpStatusCode.OK);

        var stored = await StoredSecretsAsync(tenant.CompanyId);
        Assert.All(stored.Where(s => s.ChannelId == created), s => Assert.StartsWith("v2.k2.", s.Value, StringComparison.Ordinal));
        Assert.Contains(stored, s => s.ChannelId == created);
        Assert.All(stored.Where(s => s.ChannelId == instagram), s => Assert.StartsWith("v2.k2.", s.Value, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ASecretUnderARetiredKeyFailsTheSettingsTestAndNamesTheKeyIdItNeeds()
    {
        var before = App(("Omni:SecretsKeys:0:Id", "k1"), ("Omni:SecretsKeys:0:Key", _k1), ("Omni:SecretsKeyCurrent", "k1"));
        var channel = await before.OmniChannelAsync(webhookUrl: _sink.Url());
        var after = K2Only();

        var test = await Arrange.ReadAsync(await after.Admin().PostAsync($"/api/companies/{channel.Tenant.CompanyId}/channels/{channel.ChannelId}/test", null), HttpStatusCode.OK);
        var store = after.Services.GetRequiredService<IChannelStore>();
        var error = Assert.Throws<SecretKeyMissingException>(() => store.RevealSecret(store.GetAsync(channel.Tenant.CompanyId, channel.ChannelId).Result!, "webhookSecret"));
        var rewrap = await RewrapAsync(after);

        Assert.False(test["ok"]!.GetValue<bool>());
        Assert.Contains("cannot be decrypted", test["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("key id 'k1'", error.Message, StringComparison.Ordinal);
        Assert.Contains(rewrap.Unreadable, u => u.ChannelId == channel.ChannelId && u.Field == "webhookSecret" && u.KeyId == "k1");
        Assert.False(rewrap.Complete);
        Assert.Contains(after.Logs.Lines, l => l.Contains(channel.ChannelId, StringComparison.Ordinal) && l.Contains("under key k1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OnlyThePlatformAdminMayRewrap()
    {
        var app = LegacyOnly();
        var tenant = await app.TenantAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous().PostAsync("/api/admin/secrets/rewrap", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.As(tenant.ManagementKey).PostAsync("/api/admin/secrets/rewrap", null)).StatusCode);
    }

    [Fact]
    public async Task AFirstAttemptCarryingASecretSealedUnderARemovedKeyReadsTheRewrappedChannelAndIsSent()
    {
        var before = LegacyOnly();
        var channel = await before.OmniChannelAsync(webhookUrl: _sink.Url());
        // What a publish before the rotation put in its first attempt's message: the secrets as then sealed.
        var published = await before.ChannelAsync(channel);
        var ring = LegacyAndK2();
        await RewrapAsync(ring);
        var rotated = K2Only();
        var now = DateTimeOffset.UtcNow;
        var delivery = new Omni.Webhooks.WebhookDelivery("msg_rotation", channel.Tenant.CompanyId, channel.ChannelId, "message.created", null, null,
            Omni.Webhooks.DeliveryStatus.Pending, 1, 1, now, [], 0, null, null, now, now);
        var snapshot = new Omni.Webhooks.TargetSnapshot(_sink.Url(), published.ProtectedSecrets, null, now);

        var destination = await rotated.Services.GetRequiredService<Omni.Webhooks.WebhookDestinations>().FindAsync(delivery, snapshot, now);

        Assert.Null(destination.Problem);
        Assert.False(destination.FromSnapshot);
        Assert.Equal(channel.WebhookSecret, Assert.Single(destination.Secrets!));
        Assert.All(published.ProtectedSecrets.Values, v => Assert.StartsWith("v1.", v, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheKeyRotatesUnderLoadAndTheOldKeyCanBeRemovedAfterTheRewrap()
    {
        var app = LegacyOnly();
        var channel = await app.OmniChannelAsync(webhookUrl: _sink.Url());
        var tenant = channel.Tenant;
        var instagram = (await app.ChannelAsync(tenant, "instagram", ChannelSamples.Valid["instagram"]))["id"]!.GetValue<string>();
        var current = app;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var replies = 0;
        Task load = Task.CompletedTask;
        using var stop = new CancellationTokenSource();

        // The load: an integrator's messages, agents' replies (each one a signed webhook delivery) and channel reads.
        async Task LoadAsync()
        {
            for (var i = 0; i < 400 && !stop.IsCancellationRequested; i++)
            {
                var on = Volatile.Read(ref current);
                var received = await on.As(channel.ApiKey).PostAsJsonAsync("/api/receive_hook",
                    new { externalId = $"erp-{i}", contact = new { externalId = "cust-42", name = "Maria" }, text = $"Mensagem {i}" });
                if (received.StatusCode != HttpStatusCode.Accepted)
                {
                    failures.Enqueue($"receive_hook {i}: {(int)received.StatusCode} {await received.Content.ReadAsStringAsync()}");
                    continue;
                }

                var conversationId = (await received.Content.ReadFromJsonAsync<JsonObject>())!["conversationId"]!.GetValue<string>();
                var reply = await on.As(tenant.ManagementKey).PostAsJsonAsync($"/api/companies/{tenant.CompanyId}/conversations/{conversationId}/messages", new { text = $"Resposta {i}" });
                if (reply.StatusCode == HttpStatusCode.Accepted)
                {
                    Interlocked.Increment(ref replies);
                }
                else
                {
                    failures.Enqueue($"reply {i}: {(int)reply.StatusCode}");
                }

                var read = await on.As(tenant.ManagementKey).GetAsync($"/api/companies/{tenant.CompanyId}/channels/{instagram}");
                if (read.StatusCode != HttpStatusCode.OK)
                {
                    failures.Enqueue($"channel read {i}: {(int)read.StatusCode}");
                }
            }
        }

        async Task UntilAsync(int count)
        {
            while (Volatile.Read(ref replies) < count && !load.IsCompleted)
            {
                await Task.Delay(20);
            }
        }

        // Every reply so far reached the integrator once at least (a stopped generation's attempt may come twice).
        async Task<List<SinkRequest>> DrainAsync()
        {
            var expected = Volatile.Read(ref replies);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            List<SinkRequest> created;
            while ((created = [.. _sink.Requests.Where(r => r.Body.Contains("\"message.created\"", StringComparison.Ordinal)).DistinctBy(r => r.WebhookId)]).Count < expected
                && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            Assert.True(created.Count >= expected, $"The sink got {created.Count} of {expected} deliveries.");
            return created;
        }

        load = Task.Run(LoadAsync);
        await UntilAsync(5);

        // Restart with the new key current (the new generation starts before the old one drains and stops).
        var ring = LegacyAndK2();
        Volatile.Write(ref current, ring);
        await UntilAsync(Volatile.Read(ref replies) + 5);
        await DrainAsync();
        await app.DisposeAsync();

        var rewrap = await RewrapAsync(ring);
        await UntilAsync(Volatile.Read(ref replies) + 5);

        // Restart without the old key.
        var rotated = K2Only();
        Volatile.Write(ref current, rotated);
        await UntilAsync(Volatile.Read(ref replies) + 5);
        await DrainAsync();
        await ring.DisposeAsync();
        await UntilAsync(Volatile.Read(ref replies) + 5);
        await stop.CancelAsync();
        await load;
        var deliveries = await DrainAsync();

        Assert.Empty(failures);
        Assert.DoesNotContain(rewrap.Unreadable, u => u.CompanyId == tenant.CompanyId);
        Assert.True(rewrap.Rewrapped >= 4, $"Re-wrapped {rewrap.Rewrapped}.");
        Assert.Equal("k2", rewrap.CurrentKeyId);
        Assert.All(await StoredSecretsAsync(tenant.CompanyId), s => Assert.StartsWith("v2.k2.", s.Value, StringComparison.Ordinal));
        Assert.Equal(replies, deliveries.Count);
        Assert.All(_sink.Requests, d => Assert.True(StandardWebhooks.VerifiesAny(channel.WebhookSecret, d)));
        var store = rotated.Services.GetRequiredService<IChannelStore>();
        var stored = (await store.GetAsync(tenant.CompanyId, instagram))!;
        Assert.Equal(ChannelSamples.Valid["instagram"]["appSecret"], store.RevealSecret(stored, "appSecret"));
        var test = await Arrange.ReadAsync(await rotated.Admin().PostAsync($"/api/companies/{tenant.CompanyId}/channels/{channel.ChannelId}/test", null), HttpStatusCode.OK);
        Assert.True(test["ok"]!.GetValue<bool>(), test.ToJsonString());
        Assert.True((await RewrapAsync(rotated)).Unreadable.All(u => u.CompanyId != tenant.CompanyId));
    }

    [Fact]
    public async Task ARewrapThatRacesAnEditOfTheChannelKeepsTheEditAndStillMovesTheSecrets()
    {
        var before = LegacyOnly();
        var tenant = await before.TenantAsync();
        var instagram = (await before.ChannelAsync(tenant, "instagram", ChannelSamples.Valid["instagram"]))["id"]!.GetValue<string>();
        EditingFirst? racing = null;
        var after = LegacyAndK2(services => services.AddSingleton<IChannelStore>(sp =>
            racing = new EditingFirst(ActivatorUtilities.CreateInstance<TableChannelStore>(sp), instagram)));

        var rewrap = await RewrapAsync(after);

        var store = after.Services.GetRequiredService<IChannelStore>();
        var channel = (await store.GetAsync(tenant.CompanyId, instagram))!;
        Assert.True(racing!.Raced);
        Assert.Equal("Renamed meanwhile", channel.Name);
        Assert.DoesNotContain(rewrap.Unreadable, u => u.CompanyId == tenant.CompanyId);
        Assert.All(await StoredSecretsAsync(tenant.CompanyId), s => Assert.StartsWith("v2.k2.", s.Value, StringComparison.Ordinal));
        Assert.Equal(ChannelSamples.Valid["instagram"]["appSecret"], store.RevealSecret(channel, "appSecret"));
    }

    /// <summary>The real store, except that someone renames the channel just before the first write of its secrets.</summary>
    private sealed class EditingFirst(IChannelStore inner, string channelId) : IChannelStore
    {
        public bool Raced { get; private set; }

        public Task<Channel> CreateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default) =>
            inner.CreateAsync(channel, secrets, cancellationToken);

        public Task<Channel?> GetAsync(string companyId, string channelId, bool includeDeleted = false, CancellationToken cancellationToken = default) =>
            inner.GetAsync(companyId, channelId, includeDeleted, cancellationToken);

        public Task<IReadOnlyList<Channel>> ListAsync(string companyId, string? type = null, CancellationToken cancellationToken = default) =>
            inner.ListAsync(companyId, type, cancellationToken);

        public IAsyncEnumerable<Channel> ListAllAsync(IReadOnlyCollection<string> types, CancellationToken cancellationToken = default) =>
            inner.ListAllAsync(types, cancellationToken);

        public Task<string?> FindCompanyAsync(string channelId, CancellationToken cancellationToken = default) =>
            inner.FindCompanyAsync(channelId, cancellationToken);

        public async Task<Channel> UpdateAsync(Channel channel, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken = default)
        {
            if (!Raced && channel.Id == channelId && secrets.Count > 0)
            {
                Raced = true;
                var fresh = (await inner.GetAsync(channel.CompanyId, channel.Id, cancellationToken: cancellationToken))!;
                await inner.UpdateAsync(fresh with { Name = "Renamed meanwhile" }, new Dictionary<string, string>(), cancellationToken);
            }

            return await inner.UpdateAsync(channel, secrets, cancellationToken);
        }

        public string? RevealSecret(Channel channel, string field) => inner.RevealSecret(channel, field);
    }
}
