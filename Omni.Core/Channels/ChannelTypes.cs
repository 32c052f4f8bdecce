namespace Omni.Channels;

/// <summary>
/// The contract's names for channel types. Which types exist is what is registered (<see cref="ChannelKinds.Types"/>),
/// not this list of names.
/// </summary>
public static class ChannelTypes
{
    public const string Omni = "omni";
    public const string Email = "email";
    public const string MicrosoftEmail = "microsoft-email";
    public const string WhatsApp = "whatsapp";
    public const string Instagram = "instagram";
    public const string Webchat = "webchat";
    public const string MercadoLivre = "mercadolivre";
}
