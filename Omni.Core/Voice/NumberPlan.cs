using Omni.Validation;
using PhoneNumbers;

namespace Omni.Voice;

/// <summary>Where a phone number belongs: its country (ISO 3166 alpha-2) and area code, as libphonenumber sees it.</summary>
public sealed record NumberArea(string Country, string AreaCode)
{
    /// <summary>The inventory's partition of this area ("BR-11").</summary>
    internal string Key => $"{Country}-{AreaCode}";
}

/// <summary>
/// E.164 numbers checked with libphonenumber. A number's area code is its geographic area code (Brazil's DDD, a
/// NANP area code, mobile numbers included where the country gives mobiles one); a non-geographic number (0800, 800)
/// is filed under its national destination code.
/// </summary>
internal static class NumberPlan
{
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>The country code upper-cased, or null with an error on <c>country</c>.</summary>
    public static string? CheckCountry(ValidationErrors errors, string? country)
    {
        country = country?.Trim().ToUpperInvariant();
        if (country is { Length: 2 } && Phones.GetSupportedRegions().Contains(country))
        {
            return country;
        }

        errors.Add("country", "Must be an ISO 3166 country code such as BR.");
        return null;
    }

    /// <summary>The area code's digits, or null with an error on <c>areaCode</c>.</summary>
    public static string? CheckAreaCode(ValidationErrors errors, string? areaCode)
    {
        areaCode = areaCode?.Trim();
        if (areaCode is { Length: >= 1 and <= 6 } && areaCode.All(char.IsAsciiDigit))
        {
            return areaCode;
        }

        errors.Add("areaCode", "Must be the area code's digits, such as 11.");
        return null;
    }

    /// <summary>The number in E.164 and its area, or null with <paramref name="error"/> saying why it is not a valid E.164 number.</summary>
    public static (string Number, NumberArea Area)? Parse(string? text, out string error)
    {
        error = "";
        if (text is not { Length: >= 3 and <= 20 } || text[0] != '+' || text.AsSpan(1).ContainsAnyExceptInRange('0', '9'))
        {
            error = "Must be an E.164 number: + followed by the country code and the number, digits only.";
            return null;
        }

        PhoneNumber parsed;
        try
        {
            parsed = Phones.Parse(text, null);
        }
        catch (NumberParseException)
        {
            error = "Not a phone number.";
            return null;
        }

        if (!Phones.IsValidNumber(parsed) || Phones.GetRegionCodeForNumber(parsed) is not { Length: 2 } region)
        {
            error = "Not a valid number of any country.";
            return null;
        }

        var national = Phones.GetNationalSignificantNumber(parsed);
        var length = Phones.GetLengthOfGeographicalAreaCode(parsed);
        if (length == 0)
        {
            length = Phones.GetLengthOfNationalDestinationCode(parsed);
        }

        return (Phones.Format(parsed, PhoneNumberFormat.E164), new NumberArea(region, national[..length]));
    }

    /// <summary>Whether <paramref name="text"/> is a valid E.164 number, the form a service's voice target takes.</summary>
    public static bool IsE164(string? text) => Parse(text, out _) is { } parsed && parsed.Number == text;
}
