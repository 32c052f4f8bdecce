using Omni.Validation;

namespace Omni.Voice;

/// <summary>Where a service's calls are transferred: an E.164 number ("+5511…") or a SIP URI ("sip:fila@pbx.example.com").</summary>
public static class VoiceTargets
{
    /// <summary>The target trimmed (null when not given), or null with an error on <paramref name="field"/>.</summary>
    public static string? Check(ValidationErrors errors, string field, string? value)
    {
        if (value?.Trim() is not { Length: > 0 } target)
        {
            return null;
        }

        if (target.StartsWith('+') ? NumberPlan.IsE164(target) : IsSipUri(target))
        {
            return target;
        }

        errors.Add(field, "Must be an E.164 number such as +5511912345678 or a SIP URI such as sip:fila@pbx.example.com.");
        return null;
    }

    private static bool IsSipUri(string target)
    {
        var rest = target.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) ? target[4..]
            : target.StartsWith("sips:", StringComparison.OrdinalIgnoreCase) ? target[5..] : null;
        if (rest is not { Length: > 0 and <= 250 } || rest.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return false;
        }

        var host = rest[(rest.LastIndexOf('@') + 1)..].Split(';')[0];
        if (host.LastIndexOf(':') is var colon and > 0 && !host.EndsWith(']') && host[(colon + 1)..].All(char.IsAsciiDigit))
        {
            host = host[..colon];
        }

        return Uri.CheckHostName(host.Trim('[', ']')) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6;
    }
}
