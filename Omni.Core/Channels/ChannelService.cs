using System.Text.Json.Nodes;
using Omni.Audit;
using Omni.Credentials;
using Omni.Quotas;
using Omni.Storage;
using Omni.Tenancy;
using Omni.Validation;

namespace Omni.Channels;

/// <summary>Who asks: the company acted on, how audit records name the caller, and which scopes the caller holds.</summary>
internal sealed record ChannelCaller(string CompanyId, string Actor, Func<string, bool> HasScope);

/// <summary>A channel's fields as a create or update request sends them.</summary>
internal sealed record ChannelDraft(string? Type, string? Name, string? ServiceId, JsonObject? Settings);

internal enum ChannelWriteStatus
{
    Saved,
    NotFound,
    Invalid,
    Forbidden,
    Conflict,
    OverQuota,
}

/// <summary>
/// What a create or update came to. <see cref="ShownOnce"/> holds secrets the kind made for a new channel, which
/// its create response shows this one time.
/// </summary>
internal sealed record ChannelWrite(ChannelWriteStatus Status, Channel? Channel = null, Dictionary<string, string[]>? Errors = null, string? Detail = null)
{
    public IReadOnlyDictionary<string, string> ShownOnce { get; init; } = new Dictionary<string, string>();

    /// <summary>With <see cref="ChannelWriteStatus.OverQuota"/>: the quota the create would exceed.</summary>
    public QuotaDenial? Denial { get; init; }

    public static ChannelWrite Invalid(ValidationErrors errors) => new(ChannelWriteStatus.Invalid, Errors: errors.ToDictionary());
}

internal enum ChannelDeleteStatus
{
    Deleted,
    NotFound,
    Conflict,
}

/// <summary>What "Testar Configurações" found: <see cref="Message"/> is <see cref="ChannelService.ConfigurationOk"/> when every check passed.</summary>
internal sealed record ChannelTestReport(bool Ok, string Message, IReadOnlyList<ChannelCheck> Checks);

/// <summary>
/// The channel workflows behind the management API: checking a create or update (type, name, service, the kind's
/// settings, secrets), saving it, auditing it, and telling a lost race from a success.
/// </summary>
internal sealed class ChannelService(
    IChannelStore store,
    ICompanyStore companies,
    ICredentialStore credentials,
    ChannelKinds kinds,
    ChannelSettingsValidator validator,
    IAuditLog audit,
    CompanyQuotas quotas,
    TimeProvider clock)
{
    public const string ConfigurationOk = "Configurações OK";
    private const int DeleteAttempts = 3;

    /// <summary>A channel's settings as responses show them: no secret, only whether each is set.</summary>
    public JsonObject Shown(Channel channel) => validator.Shown(channel);

    /// <summary>The company's channels, optionally of one type; null with <paramref name="errors"/> filled when the type is not a registered one.</summary>
    public async Task<IReadOnlyList<Channel>?> ListAsync(string companyId, string? type, ValidationErrors errors, CancellationToken cancellationToken = default) =>
        type is not null && !validator.CheckType(type, errors) ? null : await store.ListAsync(companyId, type, cancellationToken);

    public async Task<ChannelWrite> CreateAsync(ChannelCaller caller, ChannelDraft request, CancellationToken cancellationToken = default)
    {
        var errors = new ValidationErrors();
        var type = request.Type?.Trim();
        if (!validator.CheckType(type, errors))
        {
            return ChannelWrite.Invalid(errors);
        }

        if (Forbidden(type!, caller) is { } forbidden)
        {
            return forbidden;
        }

        var now = clock.GetUtcNow();
        var draft = new Channel(Ids.New("chn"), caller.CompanyId, type!, "", "", [], new Dictionary<string, string>(), now, now);
        var (name, serviceId, settings) = await ValidateAsync(caller, request, draft, null, errors, cancellationToken);
        if (!errors.IsValid)
        {
            return ChannelWrite.Invalid(errors);
        }

        var made = kinds.Settings(type!).SecretsMadeOnCreate();
        var secrets = new Dictionary<string, string>(settings.Secrets);
        foreach (var (field, value) in made)
        {
            secrets[field] = value;
        }

        var (channel, denial) = await quotas.CreateWithinAsync(caller.CompanyId, QuotaCounter.Channels,
            async ct => (await store.ListAsync(caller.CompanyId, cancellationToken: ct)).Count,
            ct => store.CreateAsync(draft with { Name = name!, ServiceId = serviceId!, Settings = settings.Public }, secrets, ct), cancellationToken);
        if (channel is null)
        {
            return new ChannelWrite(ChannelWriteStatus.OverQuota, Detail: denial!.Detail) { Denial = denial };
        }

        await audit.WriteAsync(caller.CompanyId, caller.Actor, "channel.created", $"channels/{channel.Id}", ["type", "name", "serviceId", .. FieldNames(settings)], cancellationToken);
        return new ChannelWrite(ChannelWriteStatus.Saved, channel) { ShownOnce = made };
    }

    public async Task<ChannelWrite> UpdateAsync(ChannelCaller caller, string channelId, ChannelDraft request, CancellationToken cancellationToken = default)
    {
        var existing = await store.GetAsync(caller.CompanyId, channelId, cancellationToken: cancellationToken);
        if (existing is null)
        {
            return new ChannelWrite(ChannelWriteStatus.NotFound);
        }

        if (Forbidden(existing.Type, caller) is { } forbidden)
        {
            return forbidden;
        }

        var errors = new ValidationErrors();
        if (request.Type is { } type && type != existing.Type)
        {
            errors.Add("type", "A channel's type cannot change; create a new channel instead.");
        }

        var (name, serviceId, settings) = await ValidateAsync(caller, request, existing, existing, errors, cancellationToken);
        if (!errors.IsValid)
        {
            return ChannelWrite.Invalid(errors);
        }

        var changed = new List<string>();
        if (name != existing.Name) changed.Add("name");
        if (serviceId != existing.ServiceId) changed.Add("serviceId");
        changed.AddRange(settings.Public.Where(p => !JsonNode.DeepEquals(p.Value, existing.Settings[p.Key])).Select(p => $"settings.{p.Key}"));
        changed.AddRange(settings.Secrets.Keys.Select(k => $"settings.{k}"));

        Channel updated;
        try
        {
            updated = await store.UpdateAsync(existing with
            {
                Name = name!,
                ServiceId = serviceId!,
                Settings = settings.Public,
                UpdatedAt = clock.GetUtcNow(),
                // Saving again is how an integrator says its endpoint is back after a 410 Gone.
                WebhookDisabledAt = null,
            }, settings.Secrets, cancellationToken);
        }
        catch (StorageConflictException)
        {
            // What was checked was the channel as read; saving over another writer's change would undo it unseen.
            return new ChannelWrite(ChannelWriteStatus.Conflict, Detail: "The channel was changed by someone else while this update was made. Read it again and retry.");
        }

        await audit.WriteAsync(caller.CompanyId, caller.Actor, "channel.updated", $"channels/{channelId}", changed, cancellationToken);
        return new ChannelWrite(ChannelWriteStatus.Saved, updated);
    }

    public async Task<ChannelDeleteStatus> DeleteAsync(ChannelCaller caller, string channelId, CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var existing = await store.GetAsync(caller.CompanyId, channelId, cancellationToken: cancellationToken);
            if (existing is null)
            {
                return ChannelDeleteStatus.NotFound;
            }

            // Keys first: once the delete answers, the channel takes no more traffic.
            await credentials.RevokeAllChannelKeysAsync(caller.CompanyId, channelId, cancellationToken);
            try
            {
                await store.UpdateAsync(existing with { DeletedAt = clock.GetUtcNow() }, new Dictionary<string, string>(), cancellationToken);
            }
            catch (StorageConflictException) when (attempt < DeleteAttempts)
            {
                // Whatever the other writer changed, the channel is still to be deleted: read it again and retry.
                continue;
            }
            catch (StorageConflictException)
            {
                return ChannelDeleteStatus.Conflict;
            }

            await quotas.ReleaseAsync(caller.CompanyId, QuotaCounter.Channels, cancellationToken);
            await quotas.ForgetAsync(caller.CompanyId, QuotaCounter.ApiKeys(channelId), cancellationToken);
            await audit.WriteAsync(caller.CompanyId, caller.Actor, "channel.deleted", $"channels/{channelId}", null, cancellationToken);
            return ChannelDeleteStatus.Deleted;
        }
    }

    /// <summary>"Testar Configurações" with the kind's tester; null when the channel does not exist.</summary>
    public async Task<ChannelTestReport?> TestAsync(string companyId, string channelId, CancellationToken cancellationToken = default)
    {
        var channel = await store.GetAsync(companyId, channelId, cancellationToken: cancellationToken);
        if (channel is null)
        {
            return null;
        }

        if (kinds.Tester(channel.Type) is not { } tester)
        {
            return new ChannelTestReport(false, $"Channels of type '{channel.Type}' have no settings test yet.", []);
        }

        IReadOnlyList<ChannelCheck> checks;
        try
        {
            checks = await tester.TestAsync(channel, cancellationToken);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            // Stored under another Omni__SecretsKey (or tampered with): nothing can be tried until it is saved again.
            checks = [new ChannelCheck("secrets", false, 0, "A stored secret of this channel cannot be decrypted; save the channel's secret fields again.")];
        }

        var ok = checks.Count > 0 && checks.All(c => c.Ok);
        var message = ok ? ConfigurationOk : string.Join(" ", checks.Where(c => !c.Ok).Select(c => $"{c.Name}: {c.Error}"));
        return new ChannelTestReport(ok, message, checks);
    }

    private ChannelWrite? Forbidden(string type, ChannelCaller caller) =>
        kinds.Find(type)?.EditScope is { } scope && !caller.HasScope(scope.Scope) ? new ChannelWrite(ChannelWriteStatus.Forbidden, Detail: scope.Detail) : null;

    private async Task<(string? Name, string? ServiceId, ValidatedSettings Settings)> ValidateAsync(
        ChannelCaller caller, ChannelDraft request, Channel draft, Channel? existing, ValidationErrors errors, CancellationToken cancellationToken)
    {
        var name = errors.Required("name", request.Name);
        var serviceId = errors.Required("serviceId", request.ServiceId, maxLength: 64);
        if (serviceId is not null && await companies.GetServiceAsync(caller.CompanyId, serviceId, cancellationToken) is null)
        {
            errors.Add("serviceId", "No such service in this company.");
        }

        var settings = validator.Validate(draft.Type, request.Settings, existing, errors);
        if (errors.IsValid)
        {
            await kinds.Settings(draft.Type).CheckReferencesAsync(caller.CompanyId, settings.Public, errors, cancellationToken);
        }

        return (name, serviceId, settings);
    }

    private static IEnumerable<string> FieldNames(ValidatedSettings settings) =>
        settings.Public.Select(p => $"settings.{p.Key}").Concat(settings.Secrets.Keys.Select(k => $"settings.{k}"));
}
