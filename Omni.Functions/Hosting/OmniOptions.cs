using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Omni.Functions.Hosting;

public sealed class OmniOptions
{
    public const string Section = "Omni";

    /// <summary>The platform operators' token. In Azure it is a Key Vault reference; locally the run script makes one.</summary>
    [Required(ErrorMessage = "Omni__AdminToken is required: the platform admin token (at least 32 characters).")]
    [MinLength(32, ErrorMessage = "Omni__AdminToken must be at least 32 characters.")]
    public string? AdminToken { get; set; }
}

/// <summary>The options' DataAnnotations, checked by generated code rather than by reflection, so the Native AOT package validates them as the JIT build does.</summary>
[OptionsValidator]
internal sealed partial class OmniOptionsValidator : IValidateOptions<OmniOptions>;
