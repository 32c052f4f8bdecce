namespace Omni.Quotas;

/// <summary>What a company may have and do at once.</summary>
public enum Quota
{
    Channels,
    ApiKeys,
    ManagementKeys,
    ConcurrentPolls,
}

/// <summary>
/// Per-company limits (<c>Omni:Quotas</c>): how many channels, keys and concurrent mailbox polls one company may
/// have, so one tenant cannot crowd out the rest. <see cref="Companies"/> raises or lowers them for one company
/// (<c>Omni__Quotas__Companies__{companyId}__MaxChannelsPerCompany</c>): an app setting, so no storage read is
/// paid for it.
/// </summary>
public sealed class QuotaOptions
{
    public const string Section = "Omni:Quotas";

    public int MaxChannelsPerCompany { get; set; } = 200;

    public int MaxApiKeysPerChannel { get; set; } = 20;

    public int MaxManagementKeysPerCompany { get; set; } = 50;

    public int MaxConcurrentPollsPerCompany { get; set; } = 4;

    /// <summary>Limits of single companies, by company id; a limit left out there is the app-wide one.</summary>
    public Dictionary<string, QuotaLimits> Companies { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The setting's name, as problem documents and logs name the quota.</summary>
    public static string NameOf(Quota quota) => quota switch
    {
        Quota.Channels => nameof(MaxChannelsPerCompany),
        Quota.ApiKeys => nameof(MaxApiKeysPerChannel),
        Quota.ManagementKeys => nameof(MaxManagementKeysPerCompany),
        _ => nameof(MaxConcurrentPollsPerCompany),
    };

    public int LimitOf(string companyId, Quota quota)
    {
        var own = Companies.GetValueOrDefault(companyId);
        return quota switch
        {
            Quota.Channels => own?.MaxChannelsPerCompany ?? MaxChannelsPerCompany,
            Quota.ApiKeys => own?.MaxApiKeysPerChannel ?? MaxApiKeysPerChannel,
            Quota.ManagementKeys => own?.MaxManagementKeysPerCompany ?? MaxManagementKeysPerCompany,
            _ => own?.MaxConcurrentPollsPerCompany ?? MaxConcurrentPollsPerCompany,
        };
    }

    internal bool IsValid() =>
        new[] { MaxChannelsPerCompany, MaxApiKeysPerChannel, MaxManagementKeysPerCompany, MaxConcurrentPollsPerCompany }.All(l => l >= 1)
        && Companies.Values.All(c => c.IsValid());
}

/// <summary>One company's own limits; null means the app-wide limit.</summary>
public sealed class QuotaLimits
{
    public int? MaxChannelsPerCompany { get; set; }

    public int? MaxApiKeysPerChannel { get; set; }

    public int? MaxManagementKeysPerCompany { get; set; }

    public int? MaxConcurrentPollsPerCompany { get; set; }

    internal bool IsValid() =>
        new[] { MaxChannelsPerCompany, MaxApiKeysPerChannel, MaxManagementKeysPerCompany, MaxConcurrentPollsPerCompany }.All(l => l is null or >= 1);
}
