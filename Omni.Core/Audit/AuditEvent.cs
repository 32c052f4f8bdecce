namespace Omni.Audit;

/// <summary>A configuration change: who did what to which resource, and when. Never holds a secret value.</summary>
public sealed record AuditEvent(
    string Id,
    string CompanyId,
    string Actor,
    string Action,
    string Target,
    IReadOnlyList<string> ChangedFields,
    DateTimeOffset At);
