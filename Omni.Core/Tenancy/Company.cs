namespace Omni.Tenancy;

public sealed record Company(string Id, string Name, string TimeZone, DateTimeOffset CreatedAt);

/// <summary>An attendance queue ("serviço") that channels route conversations to.</summary>
public sealed record Service(string Id, string CompanyId, string Name, DateTimeOffset CreatedAt);
