namespace Omni.Tenancy;

public sealed record Company(string Id, string Name, string TimeZone, DateTimeOffset CreatedAt);

/// <summary>An attendance queue ("serviço") that channels route conversations to; calls for it go to <see cref="VoiceTarget"/> (an E.164 number or a SIP URI).</summary>
public sealed record Service(string Id, string CompanyId, string Name, DateTimeOffset CreatedAt, string? VoiceTarget = null);
